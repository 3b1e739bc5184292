-- recount.sql - every tally that triggers keep (district-hub/sql/004,
-- 005, 011) against a recount from the raw rows, in one snapshot.
--
-- usage: psql CONNINFO -qAtX -v ON_ERROR_STOP=1 [-v show=N] -f recount.sql
--
-- Prints one line
--     tallies checked=N mismatched=M [TABLE CHECKED/MISMATCHED, ...]
-- then, when M > 0, the first `show` (default 5) mismatching keys, one a
-- line: "TABLE [KEY]: tally (...) recount (...)". N counts the keys
-- compared: the union of the keys held by a tally and the keys the recount
-- finds (a full outer join, so that a missing tally row and an extra one
-- are both caught). Tallies are never deleted, they can fall to 0: a key
-- whose count is 0 on one side and absent on the other counts as equal.
--
--   petition_tallies     petitions (current state) per ward, day received,
--                        kind, status, jurisdiction
--   reception_tallies    reception_sessions per ward, day, host role:
--                        sessions and citizens
--   ballot_counts        ballots per round, ward, subject, respondent
--                        group (and the subject's form)
--   ballot_level_counts  ratings of each level per round, ward, subject,
--                        respondent group and item (arrays indexed by
--                        item), from ballots.levels
--   ballot_item_tallies  the view of the same summed over respondent groups
--                        (what the flag rule reads)
--   rejected_tallies     rejected_events per ward, kind, day received
--                        (Asia/Ho_Chi_Minh)
--   petition_dates       first day (UTC) of petition_history at accepted,
--                        in_progress or resolved, and at resolved
\if :{?show}
\else
\set show 5
\endif
BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY;

WITH
petition_cmp AS (
    SELECT 'petition_tallies' AS tally,
           concat_ws(' ', ward, received_on, kind, status,
                     in_jurisdiction) AS key,
           coalesce(t.n, 0) = coalesce(r.n, 0) AS ok,
           format('n=%s', coalesce(t.n::text, 'absent')) AS kept,
           format('n=%s', coalesce(r.n::text, 'absent')) AS recounted
      FROM petition_tallies t
      FULL JOIN (SELECT ward, received_on, kind, status, in_jurisdiction,
                        count(*) AS n
                   FROM petitions
                  GROUP BY ward, received_on, kind, status, in_jurisdiction) r
     USING (ward, received_on, kind, status, in_jurisdiction)
),
reception_cmp AS (
    SELECT 'reception_tallies',
           concat_ws(' ', ward, held_on, host_role),
           coalesce(t.sessions, 0) = coalesce(r.sessions, 0)
           AND coalesce(t.citizens, 0) = coalesce(r.citizens, 0),
           CASE WHEN t.ward IS NULL THEN 'absent'
                ELSE format('sessions=%s citizens=%s', t.sessions,
                            t.citizens) END,
           CASE WHEN r.ward IS NULL THEN 'absent'
                ELSE format('sessions=%s citizens=%s', r.sessions,
                            r.citizens) END
      FROM reception_tallies t
      FULL JOIN (SELECT ward, held_on, host_role, count(*) AS sessions,
                        sum(citizens) AS citizens
                   FROM reception_sessions
                  GROUP BY ward, held_on, host_role) r
     USING (ward, held_on, host_role)
),
ballot_count_cmp AS (
    SELECT 'ballot_counts',
           concat_ws(' ', survey, ward, subject, respondent_group),
           coalesce(t.ballots, 0) = coalesce(r.ballots, 0)
           AND (coalesce(r.ballots, 0) = 0 OR t.form = r.form),
           CASE WHEN t.survey IS NULL THEN 'absent'
                ELSE format('ballots=%s form=%s', t.ballots, t.form) END,
           CASE WHEN r.survey IS NULL THEN 'absent'
                ELSE format('ballots=%s form=%s', r.ballots, r.form) END
      FROM ballot_counts t
      FULL JOIN (SELECT survey, ward, subject, respondent_group,
                        min(form) AS form, count(*) AS ballots
                   FROM ballots
                  GROUP BY survey, ward, subject, respondent_group) r
     USING (survey, ward, subject, respondent_group)
),
-- One row per ballot and item, the item being the place in levels.
rating AS MATERIALIZED (
    SELECT b.survey, b.ward, b.subject, b.respondent_group,
           l.item::smallint AS item, l.level
      FROM ballots b
     CROSS JOIN LATERAL unnest(b.levels) WITH ORDINALITY AS l (level, item)
),
level_cmp AS (
    SELECT 'ballot_level_counts',
           concat_ws(' ', survey, ward, subject, respondent_group,
                     'item ' || item),
           coalesce(t.n1, 0) = coalesce(r.n1, 0)
           AND coalesce(t.n2, 0) = coalesce(r.n2, 0)
           AND coalesce(t.n3, 0) = coalesce(r.n3, 0),
           CASE WHEN t.survey IS NULL THEN 'absent'
                ELSE format('n1=%s n2=%s n3=%s', t.n1, t.n2, t.n3) END,
           CASE WHEN r.survey IS NULL THEN 'absent'
                ELSE format('n1=%s n2=%s n3=%s', r.n1, r.n2, r.n3) END
      FROM (SELECT c.survey, c.ward, c.subject, c.respondent_group,
                   u.item::smallint AS item, u.n1, u.n2, u.n3
              FROM ballot_level_counts c
             CROSS JOIN LATERAL unnest(c.n1, c.n2, c.n3) WITH ORDINALITY
                   AS u (n1, n2, n3, item)) t
      FULL JOIN (SELECT survey, ward, subject, respondent_group, item,
                        count(*) FILTER (WHERE level = 1) AS n1,
                        count(*) FILTER (WHERE level = 2) AS n2,
                        count(*) FILTER (WHERE level = 3) AS n3
                   FROM rating
                  GROUP BY survey, ward, subject, respondent_group, item) r
     USING (survey, ward, subject, respondent_group, item)
),
item_cmp AS (
    SELECT 'ballot_item_tallies',
           concat_ws(' ', survey, ward, subject, 'item ' || item),
           coalesce(t.n1, 0) = coalesce(r.n1, 0)
           AND coalesce(t.n2, 0) = coalesce(r.n2, 0)
           AND coalesce(t.n3, 0) = coalesce(r.n3, 0),
           CASE WHEN t.survey IS NULL THEN 'absent'
                ELSE format('n1=%s n2=%s n3=%s', t.n1, t.n2, t.n3) END,
           CASE WHEN r.survey IS NULL THEN 'absent'
                ELSE format('n1=%s n2=%s n3=%s', r.n1, r.n2, r.n3) END
      FROM ballot_item_tallies t
      FULL JOIN (SELECT survey, ward, subject, item,
                        count(*) FILTER (WHERE level = 1) AS n1,
                        count(*) FILTER (WHERE level = 2) AS n2,
                        count(*) FILTER (WHERE level = 3) AS n3
                   FROM rating
                  GROUP BY survey, ward, subject, item) r
     USING (survey, ward, subject, item)
),
rejected_cmp AS (
    SELECT 'rejected_tallies',
           concat_ws(' ', ward, kind, received_on),
           coalesce(t.n, 0) = coalesce(r.n, 0),
           format('n=%s', coalesce(t.n::text, 'absent')),
           format('n=%s', coalesce(r.n::text, 'absent'))
      FROM rejected_tallies t
      FULL JOIN (SELECT ward, kind,
                        (received_at AT TIME ZONE 'Asia/Ho_Chi_Minh')::date
                            AS received_on,
                        count(*) AS n
                   FROM rejected_events
                  GROUP BY 1, 2, 3) r
     USING (ward, kind, received_on)
),
dates_cmp AS (
    SELECT 'petition_dates',
           concat_ws(' ', ward, petition),
           t.accepted_on IS NOT DISTINCT FROM r.accepted_on
           AND t.resolved_on IS NOT DISTINCT FROM r.resolved_on,
           CASE WHEN t.ward IS NULL THEN 'absent'
                ELSE format('accepted_on=%s resolved_on=%s',
                            coalesce(t.accepted_on::text, '-'),
                            coalesce(t.resolved_on::text, '-')) END,
           CASE WHEN r.ward IS NULL THEN 'absent'
                ELSE format('accepted_on=%s resolved_on=%s',
                            coalesce(r.accepted_on::text, '-'),
                            coalesce(r.resolved_on::text, '-')) END
      FROM petition_dates t
      FULL JOIN (SELECT ward, petition,
                        min((occurred_at AT TIME ZONE 'UTC')::date)
                            FILTER (WHERE status IN ('accepted', 'in_progress',
                                                     'resolved'))
                            AS accepted_on,
                        min((occurred_at AT TIME ZONE 'UTC')::date)
                            FILTER (WHERE status = 'resolved') AS resolved_on
                   FROM petition_history
                  GROUP BY ward, petition) r
     USING (ward, petition)
),
cmp AS MATERIALIZED (
    SELECT * FROM petition_cmp
    UNION ALL SELECT * FROM reception_cmp
    UNION ALL SELECT * FROM ballot_count_cmp
    UNION ALL SELECT * FROM level_cmp
    UNION ALL SELECT * FROM item_cmp
    UNION ALL SELECT * FROM rejected_cmp
    UNION ALL SELECT * FROM dates_cmp
),
per_table AS (
    SELECT tally, count(c.ok) AS checked,
           count(*) FILTER (WHERE NOT c.ok) AS bad
      FROM (VALUES ('petition_tallies'), ('reception_tallies'),
                   ('ballot_counts'), ('ballot_level_counts'),
                   ('ballot_item_tallies'), ('rejected_tallies'),
                   ('petition_dates')) AS t (tally)
      LEFT JOIN cmp c USING (tally)
     GROUP BY tally
)
SELECT line FROM (
    SELECT 0 AS part, 0::bigint AS n,
           format('tallies checked=%s mismatched=%s [%s]',
                  (SELECT count(*) FROM cmp),
                  (SELECT count(*) FROM cmp WHERE NOT ok),
                  (SELECT string_agg(format('%s %s/%s', tally, checked, bad),
                                     ', ' ORDER BY tally)
                     FROM per_table)) AS line
    UNION ALL
    SELECT 1, row_number() OVER (ORDER BY tally, key),
           format('%s [%s]: tally (%s) recount (%s)', tally, key, kept,
                  recounted)
      FROM cmp WHERE NOT ok
) lines
WHERE part = 0 OR n <= :show
ORDER BY part, n;

COMMIT;
