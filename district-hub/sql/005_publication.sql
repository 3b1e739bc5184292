-- 005_publication: the publication rule for ballots, once, as
-- docs/DESIGN.md §7 states it, for an org tree of any depth.
--
-- Self-contained: it replaces ballot_suppression(), published_ballot_rows()
-- and published_indicator_rows() whole (CREATE OR REPLACE), adds
-- ballot_suppression_pattern(), and puts ward_reporting_timeliness under
-- the rule. The tests/audit/ auditor checks the result: from every file of
-- one city pull it solves the equations they imply and finds no suppressed
-- cell, and no sum of suppressed cells of 1 to k-1 ballots, determined.

-- ---------------------------------------------------------------------
-- The cells and their tree.
--
-- Per survey round the ballot cells form a tree, found through the org
-- units' parent links (never their kind):
--   unit   every unit that has children and a reporting unit at or below
--          it: the rollup (indicator org_unit = its code);
--   ward   every unit the round covers (survey_round_wards): its own
--          ballots (org_unit = its code, or "<code>-office" when the unit
--          has children); its parent is the unit itself when it has
--          children, else its parent unit;
--   subject, group   a subject of the ward, a respondent group 1..4 of it.
-- Every cell's ballots are the sum of its children's.
--
-- The rule, with k = indicator_settings.suppress_below:
--   1. a cell of 1..k-1 ballots is suppressed (primary);
--   2. a suppressed cell hides its whole subtree (what it hides is then
--      all of its ballots, never a part that published cells below it
--      would pin down);
--   3. under every published cell, the suppressed children hold together
--      at least k ballots and are at least two: when the primary ones do
--      not, the smallest published children with ballots are suppressed
--      with them (ties by code), until they do;
--   4. a cell of 0 ballots is published as 0 when its parent is published
--      (it then says nothing the parent and its siblings do not) and is
--      suppressed below a suppressed parent; an empty cell is never a
--      partner under 3 (it adds no ballot).
-- A published cell with ballots always has a way to meet 3 (all of its
-- children with ballots hold all of its >= k ballots), and 3 only looks at
-- a cell's own children, so the pattern is computed in one pass: a cell is
-- suppressed when it or an ancestor is chosen by 1 or 3.
--
-- complementary = false applies 1, 2 and 4 only: the weakened rule the
-- auditor's own test must catch (tests/audit/). Production reads
-- ballot_suppression(k), which always passes true.
CREATE OR REPLACE FUNCTION ballot_suppression_pattern(k integer,
                                                      complementary boolean)
RETURNS TABLE (level text, survey text, district text, ward text,
               subject text, respondent_group smallint, ballots bigint,
               suppressed boolean)
LANGUAGE sql STABLE AS $$
    WITH RECURSIVE anc (unit, ancestor, depth) AS (
        SELECT code, code, 0 FROM org_units
        UNION ALL
        SELECT a.unit, u.parent, a.depth + 1
          FROM anc a JOIN org_units u ON u.code = a.ancestor
         WHERE u.parent IS NOT NULL
    ), parents AS (
        SELECT DISTINCT parent AS code FROM org_units WHERE parent IS NOT NULL
    ), grp AS (
        SELECT s.round AS survey, s.ward, s.subject, g.g::smallint AS rg,
               coalesce(c.ballots, 0)::bigint AS n
          FROM survey_round_subjects s
         CROSS JOIN generate_series(1, 4) AS g (g)
          LEFT JOIN ballot_counts c
            ON c.survey = s.round AND c.ward = s.ward
           AND c.subject = s.subject AND c.respondent_group = g.g
    ), subj AS (
        SELECT survey, ward, subject, sum(n)::bigint AS n
          FROM grp GROUP BY survey, ward, subject
    ), rep AS (
        SELECT w.round AS survey, w.ward,
               coalesce(sum(s.n), 0)::bigint AS n
          FROM survey_round_wards w
          LEFT JOIN subj s ON s.survey = w.round AND s.ward = w.ward
         GROUP BY w.round, w.ward
    ), roll AS (
        SELECT r.survey, a.ancestor AS unit, sum(r.n)::bigint AS n
          FROM rep r JOIN anc a ON a.unit = r.ward
         WHERE a.depth > 0 OR r.ward IN (SELECT code FROM parents)
         GROUP BY r.survey, a.ancestor
    ), nodes (survey, id, parent, n) AS (
        SELECT r.survey, 'U:' || r.unit,
               CASE WHEN u.parent IS NOT NULL THEN 'U:' || u.parent END, r.n
          FROM roll r JOIN org_units u ON u.code = r.unit
        UNION ALL
        SELECT r.survey, 'W:' || r.ward,
               CASE WHEN r.ward IN (SELECT code FROM parents)
                    THEN 'U:' || r.ward
                    WHEN u.parent IS NOT NULL THEN 'U:' || u.parent END,
               r.n
          FROM rep r JOIN org_units u ON u.code = r.ward
        UNION ALL
        SELECT survey, 'S:' || ward || '/' || subject, 'W:' || ward, n
          FROM subj
        UNION ALL
        SELECT survey, 'G:' || ward || '/' || subject || '/' || rg,
               'S:' || ward || '/' || subject, n
          FROM grp
    ), ranked AS (
        -- Children with ballots, smallest first: the primary ones (fewer
        -- than k) come first, then the candidate partners.
        SELECT n.*,
               row_number() OVER w AS rn,
               sum(n.n) OVER w AS cum,
               count(*) FILTER (WHERE n.n < k)
                   OVER (PARTITION BY n.survey, n.parent) AS m
          FROM nodes n
         WHERE n.n > 0 AND n.parent IS NOT NULL
        WINDOW w AS (PARTITION BY n.survey, n.parent ORDER BY n.n, n.id)
    ), need AS (
        -- How many of a cell's children with ballots rule 3 suppresses.
        SELECT survey, parent,
               CASE WHEN max(m) = 0 THEN 0
                    WHEN NOT complementary THEN max(m)
                    ELSE coalesce(min(rn) FILTER (WHERE rn >= greatest(m, 2)
                                                    AND cum >= k),
                                  count(*)) END AS need
          FROM ranked GROUP BY survey, parent
    ), chosen AS (
        SELECT n.survey, n.id, n.parent, n.n,
               (n.n > 0 AND n.n < k) OR coalesce(r.rn <= d.need, false)
                   AS chosen
          FROM nodes n
          LEFT JOIN ranked r ON r.survey = n.survey AND r.id = n.id
          LEFT JOIN need d ON d.survey = n.survey AND d.parent = n.parent
    ), hidden (survey, id, n, hidden) AS (
        -- Top down: a cell is hidden when it or an ancestor is chosen.
        SELECT c.survey, c.id, c.n, c.chosen FROM chosen c
         WHERE c.parent IS NULL
        UNION ALL
        SELECT c.survey, c.id, c.n, h.hidden OR c.chosen
          FROM chosen c JOIN hidden h
            ON h.survey = c.survey AND h.id = c.parent
    )
    SELECT CASE left(h.id, 1) WHEN 'U' THEN 'district' WHEN 'W' THEN 'ward'
                              WHEN 'S' THEN 'subject' ELSE 'group' END,
           h.survey,
           CASE left(h.id, 1)
             WHEN 'U' THEN substr(h.id, 3)
             WHEN 'W' THEN CASE WHEN x.ward IN (SELECT code FROM parents)
                                THEN x.ward ELSE u.parent END
             ELSE CASE WHEN x.ward IN (SELECT code FROM parents)
                       THEN x.ward ELSE u.parent END END,
           CASE WHEN left(h.id, 1) = 'U' THEN substr(h.id, 3) ELSE x.ward END,
           x.subject, x.rg, h.n, h.hidden
      FROM hidden h
     CROSS JOIN LATERAL (
         SELECT split_part(substr(h.id, 3), '/', 1) AS ward,
                nullif(split_part(substr(h.id, 3), '/', 2), '') AS subject,
                nullif(split_part(substr(h.id, 3), '/', 3), '')::smallint
                    AS rg) x
      LEFT JOIN org_units u ON u.code = x.ward
$$;

-- Which ballot cells may be published, for every round, under the rule
-- above. Rows: level 'district' (every unit with children: ward = district
-- = its code), 'ward' (a unit the round covers; district = the unit itself
-- when it has children, else its parent), 'subject', 'group' (respondent
-- group 1..4); ballots; suppressed. What indicator_values() and the
-- published views read.
CREATE OR REPLACE FUNCTION ballot_suppression(k integer)
RETURNS TABLE (level text, survey text, district text, ward text,
               subject text, respondent_group smallint, ballots bigint,
               suppressed boolean)
LANGUAGE sql STABLE AS $$
    SELECT * FROM ballot_suppression_pattern(k, true)
$$;

REVOKE EXECUTE ON FUNCTION ballot_suppression_pattern(integer, boolean)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ballot_suppression_pattern(integer, boolean)
    TO wardsync_hub;

-- A ward's reporting timeliness is 1 when it sent a ballot in time, 0 when
-- it sent none: it depends on the ward's ballots, so it is under the rule.
UPDATE indicator_definitions SET ballot_derived = true
 WHERE code = 'ward_reporting_timeliness';


-- ---------------------------------------------------------------------
-- What the city reads.
--
-- Every indicator row that depends on ballots (indicator_definitions.
-- ballot_derived) takes the cell's suppression from ballot_suppression(),
-- here, whatever indicator_values() returned: a suppressed row has no
-- numerator, denominator or value. And subject_score is published as the
-- mean level rounded to 0.01, without its numerator (sum of levels) and
-- denominator (ratings): the ratings of a unit are the sum over its
-- subjects of ballots times the items of their form (36 and 41), so with
-- the unit's ballots they would give how many ballots the unit's hidden
-- subjects of each form hold.
CREATE OR REPLACE FUNCTION published_indicator_rows()
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
      FROM indicator_values(NULL, NULL, 'all', NULL,
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

-- Ballot tallies per round, ward, subject, item and respondent group
-- ('all' for the subject's total), with the share of each level rounded to
-- 0.001. A suppressed row shows no number; a published one with no ballot
-- shows 0 and no share.
CREATE OR REPLACE FUNCTION published_ballot_rows()
RETURNS TABLE (survey text, ward text, subject text, form text, item integer,
               respondent_group text, suppressed boolean, ballots bigint,
               level1 bigint, level2 bigint, level3 bigint, share1 numeric,
               share2 numeric, share3 numeric, rule text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    WITH settings AS (SELECT suppress_below AS k FROM indicator_settings),
    supp AS (
        SELECT b.* FROM settings
         CROSS JOIN LATERAL ballot_suppression(settings.k) b
         WHERE b.level IN ('subject', 'group')
    ), cells AS (
        SELECT s.survey, s.ward, s.subject, f.form, i.number AS item,
               CASE WHEN s.level = 'subject' THEN 'all'
                    ELSE s.respondent_group::text END AS respondent_group,
               s.ballots, s.suppressed,
               coalesce(CASE WHEN s.level = 'subject' THEN it.n1
                             ELSE t.n1 END, 0) AS n1,
               coalesce(CASE WHEN s.level = 'subject' THEN it.n2
                             ELSE t.n2 END, 0) AS n2,
               coalesce(CASE WHEN s.level = 'subject' THEN it.n3
                             ELSE t.n3 END, 0) AS n3
          FROM supp s
          JOIN survey_round_subjects rs
            ON rs.round = s.survey AND rs.ward = s.ward AND rs.subject = s.subject
          JOIN survey_round_forms f
            ON f.round = rs.round AND f.category = rs.category
          JOIN catalogue_items i ON i.form = f.form
          LEFT JOIN (SELECT c.survey, c.ward, c.subject, u.item::smallint AS item,
                       sum(u.n1) AS n1, sum(u.n2) AS n2, sum(u.n3) AS n3
                  FROM ballot_level_counts c
                 CROSS JOIN LATERAL unnest(c.n1, c.n2, c.n3) WITH ORDINALITY
                       AS u (n1, n2, n3, item)
                 GROUP BY c.survey, c.ward, c.subject, u.item) it
            ON s.level = 'subject' AND it.survey = s.survey
           AND it.ward = s.ward AND it.subject = s.subject AND it.item = i.number
          LEFT JOIN (SELECT c.survey, c.ward, c.subject, c.respondent_group,
                            u.item::smallint AS item, u.n1, u.n2, u.n3
                       FROM ballot_level_counts c
                      CROSS JOIN LATERAL unnest(c.n1, c.n2, c.n3)
                            WITH ORDINALITY AS u (n1, n2, n3, item)) t
            ON s.level = 'group' AND t.survey = s.survey
           AND t.ward = s.ward AND t.subject = s.subject AND t.item = i.number
           AND t.respondent_group = s.respondent_group
    )
    SELECT c.survey, c.ward, c.subject, c.form, c.item, c.respondent_group,
           c.suppressed,
           CASE WHEN c.suppressed THEN NULL ELSE c.ballots END,
           CASE WHEN c.suppressed THEN NULL ELSE c.n1::bigint END,
           CASE WHEN c.suppressed THEN NULL ELSE c.n2::bigint END,
           CASE WHEN c.suppressed THEN NULL ELSE c.n3::bigint END,
           CASE WHEN c.suppressed OR c.ballots = 0 THEN NULL
                ELSE round(c.n1::numeric / c.ballots, 3) END,
           CASE WHEN c.suppressed OR c.ballots = 0 THEN NULL
                ELSE round(c.n2::numeric / c.ballots, 3) END,
           CASE WHEN c.suppressed OR c.ballots = 0 THEN NULL
                ELSE round(c.n3::numeric / c.ballots, 3) END,
           format('item_level_share: ballots at each level / ballots of the '
                  'subject and group; publication: cells of fewer than %s '
                  'ballots suppressed, and with them the smallest other cells '
                  'until the suppressed cells under every published total '
                  'are two or more and hold %s ballots or more',
                  (SELECT k FROM settings), (SELECT k FROM settings))
      FROM cells c
     ORDER BY c.survey, c.ward, c.subject, c.item, c.respondent_group
$$;
