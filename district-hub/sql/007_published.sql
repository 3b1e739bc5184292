-- 007_published: what the city may read (DESIGN §5, §7; issue 5 part 6).
--
-- The views of schema "published" apply the publication rule themselves:
-- a client reading them (the wardsync_city role has SELECT on this schema
-- only, see 002_security) cannot see a ballot cell of fewer than
-- suppress_below ballots, nor one recoverable by subtraction. The views
-- run with their owner's rights, so the city needs no grant on any table.

CREATE SCHEMA IF NOT EXISTS published;

-- Every indicator, per org unit and round or period ("all"), with the
-- thresholds of indicator_settings and deadlines judged as of today.
-- PL/pgSQL with custom plans, so that indicator_values() is planned with
-- the thresholds as constants: inlined with column references instead,
-- its plan is a hundred times slower.
CREATE FUNCTION published_indicator_rows()
RETURNS TABLE (code text, org_unit text, name text, unit_kind text,
               period text, numerator numeric, denominator numeric,
               value numeric, suppressed boolean, rule text)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = public, pg_temp
SET plan_cache_mode = force_custom_plan AS $$
DECLARE
    s indicator_settings%ROWTYPE;
BEGIN
    SELECT * INTO STRICT s FROM indicator_settings;
    RETURN QUERY
    SELECT v.code, v.org_unit, v.name, v.unit_kind, v.period, v.numerator,
           v.denominator, v.value, v.suppressed, v.rule
      FROM indicator_values(NULL, NULL, 'all', current_date,
               s.flag_min_ballots, s.flag_level3_share, s.flag_level23_share,
               s.due_soon_days, s.suppress_below) v
     ORDER BY v.ord, v.period, v.sort_key;
END
$$;

CREATE VIEW published.indicators AS SELECT * FROM published_indicator_rows();

-- Ballot tallies per round, ward, subject, item and respondent group
-- ('all' for the subject's total), with the share of each level.
-- Suppressed rows show no numbers.
CREATE FUNCTION published_ballot_rows()
RETURNS TABLE (survey text, ward text, subject text, form text, item integer,
               respondent_group text, suppressed boolean, ballots bigint,
               level1 bigint, level2 bigint, level3 bigint, share1 numeric,
               share2 numeric, share3 numeric, rule text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    WITH settings AS (SELECT suppress_below AS k FROM indicator_settings),
    supp AS (
        SELECT b.* FROM settings CROSS JOIN LATERAL ballot_suppression(settings.k) b
         WHERE b.level IN ('subject', 'group')
    ), cells AS (
        SELECT s.survey, s.ward, s.subject, f.form, i.number AS item,
               coalesce(s.respondent_group::text, 'all') AS respondent_group,
               s.ballots, s.suppressed,
               coalesce(CASE WHEN s.respondent_group IS NULL THEN it.n1
                             ELSE t.n1 END, 0) AS n1,
               coalesce(CASE WHEN s.respondent_group IS NULL THEN it.n2
                             ELSE t.n2 END, 0) AS n2,
               coalesce(CASE WHEN s.respondent_group IS NULL THEN it.n3
                             ELSE t.n3 END, 0) AS n3
          FROM supp s
          JOIN survey_round_subjects rs
            ON rs.round = s.survey AND rs.ward = s.ward AND rs.subject = s.subject
          JOIN survey_round_forms f
            ON f.round = rs.round AND f.category = rs.category
          JOIN catalogue_items i ON i.form = f.form
          LEFT JOIN ballot_item_tallies it
            ON s.respondent_group IS NULL AND it.survey = s.survey
           AND it.ward = s.ward AND it.subject = s.subject AND it.item = i.number
          LEFT JOIN ballot_tallies t
            ON s.respondent_group IS NOT NULL AND t.survey = s.survey
           AND t.ward = s.ward AND t.subject = s.subject AND t.item = i.number
           AND t.respondent_group = s.respondent_group
    )
    SELECT c.survey, c.ward, c.subject, c.form, c.item, c.respondent_group,
           c.suppressed,
           CASE WHEN c.suppressed THEN NULL ELSE c.ballots END AS ballots,
           CASE WHEN c.suppressed THEN NULL ELSE c.n1::bigint END AS level1,
           CASE WHEN c.suppressed THEN NULL ELSE c.n2::bigint END AS level2,
           CASE WHEN c.suppressed THEN NULL ELSE c.n3::bigint END AS level3,
           CASE WHEN c.suppressed OR c.ballots = 0 THEN NULL
                ELSE round(c.n1::numeric / c.ballots, 6) END AS share1,
           CASE WHEN c.suppressed OR c.ballots = 0 THEN NULL
                ELSE round(c.n2::numeric / c.ballots, 6) END AS share2,
           CASE WHEN c.suppressed OR c.ballots = 0 THEN NULL
                ELSE round(c.n3::numeric / c.ballots, 6) END AS share3,
           format('item_level_share: ballots at each level / ballots of the '
                  'subject and group; cells of fewer than %s ballots '
                  'suppressed, with complementary suppression',
                  (SELECT k FROM settings)) AS rule
      FROM cells c
     ORDER BY c.survey, c.ward, c.subject, c.item, c.respondent_group
$$;

CREATE VIEW published.ballot_aggregates AS SELECT * FROM published_ballot_rows();

-- Only the definer functions above may call the unsuppressed ones: a
-- client with EXECUTE on indicator_values() or ballot_suppression() could
-- pass a threshold of 1 and read every small cell.
REVOKE EXECUTE ON FUNCTION ballot_suppression(integer) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION indicator_values(date, date, text, date, integer,
    numeric, numeric, integer, integer) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION petition_deadlines(date, integer) FROM PUBLIC;

-- The hub writes tallies through its triggers; the city reads published.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'wardsync_hub') THEN
        GRANT SELECT, INSERT, UPDATE ON ballot_counts, ballot_tallies,
            ballot_item_tallies, petition_tallies, reception_tallies,
            rejected_tallies, petition_dates TO wardsync_hub;
        GRANT SELECT ON survey_rounds, survey_round_forms, survey_round_wards,
            survey_round_subjects, petition_deadline_rules,
            indicator_settings, indicator_definitions TO wardsync_hub;
        GRANT UPDATE ON indicator_settings TO wardsync_hub;
        GRANT EXECUTE ON FUNCTION ballot_suppression(integer),
            indicator_values(date, date, text, date, integer, numeric,
                             numeric, integer, integer),
            petition_deadlines(date, integer) TO wardsync_hub;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'wardsync_city') THEN
        GRANT USAGE ON SCHEMA published TO wardsync_city;
        GRANT SELECT ON ALL TABLES IN SCHEMA published TO wardsync_city;
    END IF;
END
$$;
