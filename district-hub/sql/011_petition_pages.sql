-- 011_petition_pages.sql - the petitions pull a page at a time, and the
-- published indicators as of a given day (issues #13 item 4 and #10 "as_of
-- in the pull"; docs/DESIGN.md §6 Petitions, §8).
--
-- The petitions pull joined petition_due_dates(district_today()), computed
-- over every petition, on every page: 2.9 s a page of 500 with 200,000
-- petitions (bench/petitions). The rule of a petition's deadlines now lives
-- in petition_deadlines_of(), over the petitions it is given; the page
-- chooses its rows first and asks for their due dates only:
--   petition_deadlines_of(as_of, due_soon, wards, petitions)
--                  the one rule (moved here from petition_deadlines(),
--                  001, unchanged), over the petitions named by
--                  (wards[i], petitions[i]), each once; wards NULL: every
--                  petition. It also returns the typed due_on.
--                  (A UNION ALL of "every petition" and "the named ones"
--                  was tried: it cost the whole-table plan its Memoize of
--                  the rule lookup, 30 % slower for the indicators.)
--   petition_deadlines(as_of, due_soon)
--                  the same rows over every petition, for
--                  indicator_values(): inlined with NULL keys, the
--                  planner drops the keyed branch, so its plan is the one
--                  it had.
--   petition_due_dates_of(as_of, wards, petitions), petition_due_dates(as_of)
--                  the legal due date, the typed date and the state, for
--                  the named petitions (planned with them as constants)
--                  or every one.
-- And published_indicator_rows(p_as_of): published.indicators as of day
-- p_as_of (NULL: today), what the pull's "indicators" dataset of a request
-- with as_of reads; published_indicator_rows() is it with NULL, so the
-- publication rule stays in one function.

-- Every named petition's deadlines and state on day p_as_of (the rule of
-- docs/DESIGN.md §6 Petitions, as 001 wrote it): "closed" (withdrawn or
-- transferred, or not in jurisdiction), "resolved_on_time",
-- "resolved_late", and for open petitions in jurisdiction "on_time",
-- "due_soon" or "overdue". An open petition not yet accepted is held to its
-- acceptance deadline. due is the legal due date; typed_due_on the office's.
CREATE FUNCTION petition_deadlines_of(p_as_of date, p_due_soon integer,
                                      p_wards text[], p_petitions text[])
RETURNS TABLE (ward text, petition text, kind text, status text,
               in_jurisdiction boolean, received_on date,
               accepted_on date, resolved_on date, accept_due date,
               resolve_due date, due date, state text, typed_due_on date)
LANGUAGE sql STABLE AS $$
    SELECT p.ward, p.petition, p.kind, p.status, p.in_jurisdiction,
           p.received_on, d.accepted_on, d.resolved_on, x.accept_due,
           x.resolve_due,
           CASE WHEN d.accepted_on IS NULL THEN x.accept_due
                ELSE x.resolve_due END,
           CASE
             WHEN p.status IN ('withdrawn', 'transferred')
                  OR NOT p.in_jurisdiction THEN 'closed'
             WHEN p.status = 'resolved' THEN
               CASE WHEN coalesce(d.resolved_on, p_as_of) <= x.resolve_due
                    THEN 'resolved_on_time' ELSE 'resolved_late' END
             WHEN p_as_of > CASE WHEN d.accepted_on IS NULL THEN x.accept_due
                               ELSE x.resolve_due END THEN 'overdue'
             WHEN CASE WHEN d.accepted_on IS NULL THEN x.accept_due
                       ELSE x.resolve_due END - p_as_of <= p_due_soon
                  THEN 'due_soon'
             ELSE 'on_time'
           END,
           p.due_on
      FROM petitions p
      LEFT JOIN petition_dates d USING (ward, petition)
      CROSS JOIN LATERAL (
          SELECT r.* FROM petition_deadline_rules r
           WHERE r.kind = p.kind AND r.effective_from <= p.received_on
           ORDER BY r.effective_from DESC LIMIT 1) r
      CROSS JOIN LATERAL (
          SELECT p.received_on + r.accept_days AS accept_due,
                 coalesce(d.accepted_on, p.received_on) + r.resolve_days
                   + least(greatest(coalesce(p.due_on
                       - (coalesce(d.accepted_on, p.received_on)
                          + r.resolve_days), 0), 0),
                       r.extension_days * r.max_extensions) AS resolve_due) x
     -- NULL keys: folded away when inlined, the plan of 001's function.
     -- Keys: an index scan of petitions_pkey for the keys' distinct wards
     -- and their petitions, then exactly the pairs named.
     WHERE p_wards IS NULL
        OR (p.ward = ANY (ARRAY(SELECT DISTINCT unnest(p_wards)))
            AND p.petition = ANY (p_petitions)
            AND (p.ward, p.petition) IN (
                SELECT k.ward, k.petition
                  FROM unnest(p_wards, p_petitions) k (ward, petition)))
$$;

CREATE OR REPLACE FUNCTION petition_deadlines(as_of date, due_soon integer)
RETURNS TABLE (ward text, petition text, kind text, status text,
               in_jurisdiction boolean, received_on date,
               accepted_on date, resolved_on date, accept_due date,
               resolve_due date, due date, state text)
LANGUAGE sql STABLE AS $$
    SELECT d.ward, d.petition, d.kind, d.status, d.in_jurisdiction,
           d.received_on, d.accepted_on, d.resolved_on, d.accept_due,
           d.resolve_due, d.due, d.state
      FROM petition_deadlines_of(as_of, due_soon, NULL, NULL) d
$$;

-- The legal due date (docs/DESIGN.md §6) beside the office's typed due_on
-- and the state on day p_as_of, of the petitions named by (p_wards[i],
-- p_petitions[i]); p_wards NULL: every petition. PL/pgSQL with custom
-- plans, so that petition_deadlines_of() is planned with the keys as
-- constants: from index probes for a page's keys (10 ms for 500 of
-- 200,000 petitions), the whole table for NULL. A generic plan, the keys a
-- parameter, scans every petition whatever the keys (75-140 ms).
CREATE FUNCTION petition_due_dates_of(p_as_of date, p_wards text[],
                                      p_petitions text[])
RETURNS TABLE (ward text, petition text, due date, typed_due_on date,
               state text)
LANGUAGE plpgsql STABLE
SET plan_cache_mode = force_custom_plan AS $$
#variable_conflict use_column
DECLARE
    v_due_soon integer;
BEGIN
    SELECT s.due_soon_days INTO STRICT v_due_soon FROM indicator_settings s;
    RETURN QUERY
    SELECT d.ward, d.petition, d.due, d.typed_due_on, d.state
      FROM petition_deadlines_of(p_as_of, v_due_soon, p_wards,
                                 p_petitions) d;
END
$$;

CREATE OR REPLACE FUNCTION petition_due_dates(p_as_of date)
RETURNS TABLE (ward text, petition text, due date, typed_due_on date,
               state text)
LANGUAGE sql STABLE AS $$
    SELECT * FROM petition_due_dates_of(p_as_of, NULL, NULL)
$$;

-- published.indicators as of day p_as_of (005's function, the as-of day
-- now a parameter; NULL: the district's today).
CREATE FUNCTION published_indicator_rows(p_as_of date)
RETURNS TABLE (code text, org_unit text, name text, unit_kind text,
               period text, numerator numeric, denominator numeric,
               value numeric, suppressed boolean, rule text)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = public, pg_temp
SET plan_cache_mode = force_custom_plan
-- As 004 set it: the planner overestimates the rows of the recursive org
-- tree, and JIT compiling took seconds for a query of milliseconds.
SET jit = off AS $$
DECLARE
    s indicator_settings%ROWTYPE;
BEGIN
    SELECT * INTO STRICT s FROM indicator_settings;
    RETURN QUERY
    WITH supp AS (
        SELECT b.survey,
               CASE WHEN b.level = 'ward' AND b.ward = b.district
                    THEN b.ward || '-office' ELSE b.ward END AS org_unit,
               b.suppressed
          FROM ballot_suppression(s.suppress_below) b
         WHERE b.level IN ('district', 'ward')
    )
    SELECT v.code, v.org_unit, v.name, v.unit_kind, v.period,
           CASE WHEN x.hide OR v.code = 'subject_score' THEN NULL
                ELSE v.numerator END,
           CASE WHEN x.hide OR v.code = 'subject_score' THEN NULL
                ELSE v.denominator END,
           CASE WHEN x.hide THEN NULL
                -- From the exact ratio, not from the value indicator_values()
                -- already rounded to 3 decimals: rounding twice can move the
                -- published mean out of the band its ratio allows.
                WHEN v.code = 'subject_score' AND v.denominator > 0
                    THEN round(v.numerator / v.denominator, 2)
                WHEN v.code = 'subject_score' THEN NULL
                ELSE v.value END,
           x.hide,
           v.rule
           || CASE WHEN v.code = 'subject_score'
                   THEN '; published: the mean level rounded to 0.01, '
                        'without numerator and denominator'
                   ELSE '' END
      FROM indicator_values(NULL, NULL, 'all', p_as_of,
               s.flag_min_ballots, s.flag_level3_share, s.flag_level23_share,
               s.due_soon_days, s.suppress_below) v
      JOIN indicator_definitions d ON d.code = v.code
      LEFT JOIN supp ON d.ballot_derived AND supp.survey = v.period
                    AND supp.org_unit = v.org_unit
     CROSS JOIN LATERAL (
         SELECT coalesce(v.suppressed, false)
                OR (d.ballot_derived
                    AND coalesce(supp.suppressed, true)) AS hide) x
     ORDER BY v.ord, v.period, v.sort_key;
END
$$;

CREATE OR REPLACE FUNCTION published_indicator_rows()
RETURNS TABLE (code text, org_unit text, name text, unit_kind text,
               period text, numerator numeric, denominator numeric,
               value numeric, suppressed boolean, rule text)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = public, pg_temp AS $$
    SELECT * FROM published_indicator_rows(NULL::date)
$$;

-- As petition_deadlines() and petition_due_dates(): the hub's only.
REVOKE EXECUTE ON FUNCTION petition_deadlines_of(date, integer, text[],
    text[]) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION petition_due_dates_of(date, text[], text[])
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION petition_deadlines_of(date, integer, text[],
    text[]), petition_due_dates_of(date, text[], text[]) TO wardsync_hub;
