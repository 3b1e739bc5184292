-- 004_indicator_rules: every indicator rule once, as docs/DESIGN.md §6 and
-- §7 state it (issue #10).
--
-- Self-contained: it replaces petition_history_track(), the view
-- indicator_scope and indicator_values() whole (CREATE OR REPLACE, same
-- signatures), and adds district_today(), remediation_completions() (over
-- 002's remediation_history), subject_flags(), flagged_subjects() and
-- petition_due_dates(). What changes:
--
--   * "today" is the district's date (Asia/Ho_Chi_Minh), district_today(),
--     everywhere a figure depends on the day; indicator_values() takes
--     p_as_of NULL as "today, or the period's last day when the period is
--     over", so no caller computes it;
--   * a petition resolved, reopened and resolved again is judged on its
--     last resolution (petition_dates.resolved_on);
--   * a remediation plan's completion date is that of the event that
--     moved it to completed, from its history (remediation_history): a
--     completed plan sent again unchanged keeps its date, one reopened and
--     completed again takes the later one;
--   * sync_lag of a ward or a rollup is its stalest agent's;
--   * one legal due date per petition (petition_deadlines().due), which
--     the petitions pull and the report show too;
--   * withdrawn petitions are not in jurisdiction;
--   * a rollup for every org unit that has children, at any depth;
--   * every date-dependent figure as it stood on the as-of day;
--   * values are numeric rounded as published: ratios to 3 decimals, days
--     to 1.

-- ---------------------------------------------------------------------
-- The district's date. Every "today" of an indicator, the petitions pull
-- and the report is this one, whatever the session's time zone.

CREATE FUNCTION district_today() RETURNS date
LANGUAGE sql STABLE AS $$
    SELECT (now() AT TIME ZONE 'Asia/Ho_Chi_Minh')::date
$$;

-- ---------------------------------------------------------------------
-- Petition dates from the whole history of each petition touched, in the
-- order the current state follows (occurred_at, then the event's seq):
--   accepted_on  the first day it was accepted, in progress or resolved;
--   resolved_on  the day of its last resolution: the latest history row
--                "resolved" whose previous row (in that order) is not
--                "resolved". A resolution sent again unchanged does not
--                move it; a resolution after a reopening does.
-- Recomputed from the history, not merged with the stored dates, so that
-- rows arriving out of order give the same dates as rows in order.

CREATE OR REPLACE FUNCTION petition_history_track() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO petition_dates AS d (ward, petition, accepted_on, resolved_on)
    SELECT x.ward, x.petition,
           min(x.day) FILTER (WHERE x.status IN ('accepted', 'in_progress',
                                                 'resolved')),
           max(x.day) FILTER (WHERE x.status = 'resolved'
                              AND x.prev IS DISTINCT FROM 'resolved')
      FROM (SELECT h.ward, h.petition, h.status,
                   (h.occurred_at AT TIME ZONE 'UTC')::date AS day,
                   lag(h.status) OVER (PARTITION BY h.ward, h.petition
                                       ORDER BY h.occurred_at, e.seq,
                                                h.event_id) AS prev
              FROM petition_history h
              JOIN events e ON e.event_id = h.event_id
             WHERE (h.ward, h.petition) IN
                   (SELECT n.ward, n.petition FROM new_history n)) x
     GROUP BY x.ward, x.petition
     ORDER BY x.ward, x.petition
    ON CONFLICT (ward, petition) DO UPDATE
       SET accepted_on = EXCLUDED.accepted_on,
           resolved_on = EXCLUDED.resolved_on;

    -- A history row that arrived out of order does not change the current
    -- state, but it changes the record the city pulls: give the petition a
    -- new change number, unless one of these rows is its current state
    -- (then its writer already did).
    UPDATE petitions p SET change_seq = NULL
      FROM (SELECT ward, petition, array_agg(event_id) AS ids
              FROM new_history GROUP BY ward, petition) n
     WHERE p.ward = n.ward AND p.petition = n.petition
       AND p.last_event_id <> ALL (n.ids);
    RETURN NULL;
END
$$;

-- The dates already stored, recomputed by the same rule.
UPDATE petition_dates d SET resolved_on = x.resolved_on
  FROM (SELECT ward, petition,
               max(day) FILTER (WHERE status = 'resolved'
                                AND prev IS DISTINCT FROM 'resolved')
                   AS resolved_on
          FROM (SELECT h.ward, h.petition, h.status,
                       (h.occurred_at AT TIME ZONE 'UTC')::date AS day,
                       lag(h.status) OVER (PARTITION BY h.ward, h.petition
                                           ORDER BY h.occurred_at, e.seq,
                                                    h.event_id) AS prev
                  FROM petition_history h
                  JOIN events e ON e.event_id = h.event_id) y
         GROUP BY ward, petition) x
 WHERE d.ward = x.ward AND d.petition = x.petition;

-- ---------------------------------------------------------------------
-- Every change of every remediation plan (remediation_history, written by
-- the one writer since 002): the published figures read it, so the pull
-- snapshot moves with it.

CREATE TRIGGER remediation_history_published_bump
    AFTER INSERT OR UPDATE OR DELETE ON remediation_history
    FOR EACH STATEMENT EXECUTE FUNCTION pull_published_bump();

-- The completion date of every plan whose current state is "completed":
-- the day of the latest history row "completed" whose previous row (by
-- occurred_at, seq) is not "completed", i.e. of the event that moved it
-- to completed. docs/DESIGN.md §6.
CREATE FUNCTION remediation_completions()
RETURNS TABLE (ward text, survey text, subject text, completed_on date)
LANGUAGE sql STABLE AS $$
    SELECT x.ward, x.survey, x.subject,
           max(x.day) FILTER (WHERE x.status = 'completed'
                              AND x.prev IS DISTINCT FROM 'completed')
      FROM (SELECT h.ward, h.survey, h.subject, h.status,
                   (h.occurred_at AT TIME ZONE 'UTC')::date AS day,
                   lag(h.status) OVER (PARTITION BY h.ward, h.survey,
                                                    h.subject
                                       ORDER BY h.occurred_at, h.seq,
                                                h.event_id) AS prev
              FROM remediation_history h) x
      JOIN remediation_plans p
        ON p.ward = x.ward AND p.survey = x.survey AND p.subject = x.subject
     WHERE p.status = 'completed'
     GROUP BY x.ward, x.survey, x.subject
$$;

-- ---------------------------------------------------------------------
-- Org unit rows of every indicator (docs/DESIGN.md §7), at any depth of
-- the org tree (city -> district -> ward, or city -> ward):
--   member  the org unit whose own records the row counts;
--   a unit without children (a ward): one row, unit_kind 'ward', over its
--     own records;
--   a unit U with children: a row "U-office", unit_kind 'office', over
--     U's own records (its own agent sends with U's code as ward), and a
--     row "U", unit_kind 'rollup', over U and every unit below it.
-- sort_key: the path from the root, each unit's rows after those of the
-- units below it ("HN/0/LB/0/LB01", "HN/0/LB/1" office, "HN/0/LB/2"
-- rollup, then "HN/1", "HN/2").

CREATE OR REPLACE VIEW indicator_scope (org_unit, name, unit_kind, sort_key,
                                        member) AS
    WITH RECURSIVE tree (code, path) AS (
        SELECT u.code, u.code FROM org_units u WHERE u.parent IS NULL
        UNION ALL
        SELECT c.code, t.path || '/0/' || c.code
          FROM org_units c JOIN tree t ON c.parent = t.code
    ), below (top, code) AS (
        SELECT u.code, u.code FROM org_units u
        UNION ALL
        SELECT b.top, c.code FROM below b JOIN org_units c ON c.parent = b.code
    ), parents AS (
        SELECT DISTINCT parent AS code FROM org_units WHERE parent IS NOT NULL
    )
    SELECT u.code, u.name, 'ward', t.path, u.code
      FROM org_units u JOIN tree t USING (code)
     WHERE u.code NOT IN (SELECT code FROM parents)
    UNION ALL
    SELECT u.code || '-office', u.name, 'office', t.path || '/1', u.code
      FROM org_units u JOIN tree t USING (code)
     WHERE u.code IN (SELECT code FROM parents)
    UNION ALL
    SELECT u.code, u.name, 'rollup', t.path || '/2', b.code
      FROM org_units u JOIN tree t USING (code)
      JOIN below b ON b.top = u.code
     WHERE u.code IN (SELECT code FROM parents);

-- ---------------------------------------------------------------------
-- The flag rule (docs/DESIGN.md §6), once: every subject rated in a round
-- whose dates meet the period [p_from, p_to) (NULL: unbounded), with its
-- ballots, the sum of its levels and its ratings, flagged when it has at
-- least p_min_ballots ballots and, on some item, level-3 ratings reach
-- p_level3_share of the item's ratings or level-2-or-3 ratings reach
-- p_level23_share of them.

CREATE FUNCTION subject_flags(p_from date, p_to date, p_min_ballots integer,
                              p_level3_share numeric,
                              p_level23_share numeric)
RETURNS TABLE (survey text, ward text, subject text, ballots numeric,
               level_sum numeric, ratings numeric, flagged boolean)
LANGUAGE sql STABLE AS $$
    WITH rounds AS (
        SELECT r.code FROM survey_rounds r
         WHERE (p_from IS NULL OR r.closes_on >= p_from)
           AND (p_to IS NULL OR r.opens_on < p_to)
    )
    SELECT c.survey, c.ward, c.subject, c.ballots, i.level_sum, i.ratings,
           c.ballots >= p_min_ballots AND i.any_item_over
      FROM (SELECT bc.survey, bc.ward, bc.subject,
                   sum(bc.ballots) AS ballots
              FROM ballot_counts bc JOIN rounds r ON r.code = bc.survey
             GROUP BY bc.survey, bc.ward, bc.subject) c
      JOIN (SELECT t.survey, t.ward, t.subject,
                   sum(t.n1 + 2 * t.n2 + 3 * t.n3) AS level_sum,
                   sum(t.n1 + t.n2 + t.n3) AS ratings,
                   bool_or(t.n3 >= p_level3_share * (t.n1 + t.n2 + t.n3)
                        OR t.n2 + t.n3 >= p_level23_share
                                          * (t.n1 + t.n2 + t.n3))
                       AS any_item_over
              FROM (SELECT c.survey, c.ward, c.subject, u.item::smallint AS item,
                       sum(u.n1) AS n1, sum(u.n2) AS n2, sum(u.n3) AS n3
                  FROM ballot_level_counts c
                 CROSS JOIN LATERAL unnest(c.n1, c.n2, c.n3) WITH ORDINALITY
                       AS u (n1, n2, n3, item)
                 GROUP BY c.survey, c.ward, c.subject, u.item) t
                  JOIN rounds r ON r.code = t.survey
             GROUP BY t.survey, t.ward, t.subject) i
     USING (survey, ward, subject)
$$;

-- Every flagged subject with its plan as it stood on p_as_of:
--   plan_status   'none' without a plan, else the plan's current status;
--   completed_on  the day the plan was completed (remediation_completions);
--   on_time       completed on or before its due date, and by p_as_of;
--   overdue       a plan whose due date is before p_as_of, not completed
--                 on or before p_as_of.
-- remediation_on_time, remediation_overdue and remediation_missing count
-- these rows; the report lists them.
CREATE FUNCTION flagged_subjects(p_from date, p_to date, p_as_of date,
                                 p_min_ballots integer,
                                 p_level3_share numeric,
                                 p_level23_share numeric)
RETURNS TABLE (survey text, ward text, subject text, ballots numeric,
               plan_status text, due_on date, completed_on date,
               on_time boolean, overdue boolean)
LANGUAGE sql STABLE AS $$
    SELECT s.survey, s.ward, s.subject, s.ballots,
           coalesce(p.status, 'none'), p.due_on, c.completed_on,
           coalesce(c.completed_on <= p.due_on
                    AND c.completed_on <= p_as_of, false),
           coalesce(p.due_on < p_as_of
                    AND NOT coalesce(c.completed_on <= p_as_of, false), false)
      FROM subject_flags(p_from, p_to, p_min_ballots, p_level3_share,
                         p_level23_share) s
      LEFT JOIN remediation_plans p
        ON p.survey = s.survey AND p.ward = s.ward AND p.subject = s.subject
      LEFT JOIN remediation_completions() c
        ON c.survey = s.survey AND c.ward = s.ward AND c.subject = s.subject
     WHERE s.flagged
$$;

-- Every petition's one legal due date (docs/DESIGN.md §6) beside the
-- due_on typed by the office, on the district's today: what the petitions
-- pull and the report show. due is petition_deadlines().due: the
-- acceptance deadline until the petition is accepted, then acceptance +
-- the rule's days + a recorded extension up to the rule's allowed one.
CREATE FUNCTION petition_due_dates(p_as_of date)
RETURNS TABLE (ward text, petition text, due date, typed_due_on date,
               state text)
LANGUAGE sql STABLE AS $$
    SELECT d.ward, d.petition, d.due, p.due_on, d.state
      FROM petition_deadlines(p_as_of,
               (SELECT due_soon_days FROM indicator_settings)) d
      JOIN petitions p ON p.ward = d.ward AND p.petition = d.petition
$$;

-- ---------------------------------------------------------------------
-- Every indicator row (docs/DESIGN.md §7, the definitions in words), with
-- the publication rule of ballot_suppression() applied. Same signature as
-- before, so the published views read it unchanged:
--   p_from, p_to  the period [from, to) (NULL: unbounded);
--   p_label       the period column of rows that are per period;
--   p_as_of       the day every date-dependent figure is judged on; NULL:
--                 the district's today, or the period's last day when the
--                 period ended before today;
--   then the flag rule, the "due soon" window, the suppression threshold.
-- What is date-dependent, as of the day A:
--   petitions_overdue_open, petition_backlog_age_*: open petitions
--     received on or before A, by their state and age (A - received_on)
--     on A;
--   chair_reception_weeks: weeks (ISO, Monday first) from the week of
--     the period's first day (unbounded: of the first session recorded)
--     to the week of min(A, the period's last day), and the chair's
--     sessions held on or before A;
--   ward_reporting_timeliness: a ward whose last ballot arrived (the
--     hub's receipt, district date) on or before both the round's close
--     date and A;
--   remediation_on_time, remediation_overdue: flagged_subjects() on A.
-- Values are numeric: counts as counted, ratios num / den rounded to 3
-- decimals, days to 1 decimal; sync_lag whole seconds.
-- A ballot-derived row of an org unit ballot_suppression() has no
-- decision for (a total above the district level) is suppressed when it
-- counts fewer than p_suppress_below ballots.

CREATE OR REPLACE FUNCTION indicator_values(p_from date, p_to date,
                                            p_label text, p_as_of date,
                                            p_min_ballots integer,
                                            p_level3_share numeric,
                                            p_level23_share numeric,
                                            p_due_soon integer,
                                            p_suppress_below integer)
RETURNS TABLE (code text, org_unit text, name text, unit_kind text,
               period text, numerator numeric, denominator numeric,
               value numeric, suppressed boolean, rule text, ord integer,
               sort_key text)
LANGUAGE sql STABLE AS $$
    WITH scope AS MATERIALIZED (
        -- The org unit rows once: the view is recursive.
        SELECT * FROM indicator_scope
    ), asof AS MATERIALIZED (
        SELECT coalesce(p_as_of,
                        CASE WHEN p_to IS NOT NULL
                                  AND p_to - 1 < district_today()
                             THEN p_to - 1 ELSE district_today() END) AS d
    ), rounds AS (
        SELECT r.code, r.opens_on, r.closes_on FROM survey_rounds r
         WHERE (p_from IS NULL OR r.closes_on >= p_from)
           AND (p_to IS NULL OR r.opens_on < p_to)
    ), subj AS (
        SELECT * FROM subject_flags(p_from, p_to, p_min_ballots,
                                    p_level3_share, p_level23_share)
    ), rem AS (
        SELECT f.survey, f.ward,
               count(*) FILTER (WHERE f.on_time) AS on_time,
               count(*) FILTER (WHERE f.overdue) AS overdue,
               count(*) FILTER (WHERE f.plan_status = 'none') AS missing
          FROM flagged_subjects(p_from, p_to, (SELECT d FROM asof),
                                p_min_ballots, p_level3_share,
                                p_level23_share) f
         GROUP BY f.survey, f.ward
    ), round_ward AS (
        SELECT w.round AS survey, w.ward, w.expected_ballots,
               coalesce(sum(s.ballots), 0) AS ballots,
               count(s.subject) FILTER (WHERE s.flagged) AS flagged,
               coalesce(sum(s.level_sum), 0) AS level_sum,
               coalesce(sum(s.ratings), 0) AS ratings,
               (SELECT max(bc.last_received) FROM ballot_counts bc
                 WHERE bc.survey = w.round AND bc.ward = w.ward) AS last_received,
               r.closes_on
          FROM survey_round_wards w JOIN rounds r ON r.code = w.round
          LEFT JOIN subj s ON s.survey = w.round AND s.ward = w.ward
         GROUP BY w.round, w.ward, w.expected_ballots, r.closes_on
    ), ballot_values (code, period, member, num, den) AS (
        SELECT v.code, rw.survey, rw.ward, v.num, v.den
          FROM round_ward rw
          LEFT JOIN rem ON rem.survey = rw.survey AND rem.ward = rw.ward
         CROSS JOIN asof
         CROSS JOIN LATERAL (VALUES
             ('ballots_received', rw.ballots::numeric, NULL::numeric),
             ('ballot_completeness', rw.ballots, rw.expected_ballots),
             ('subject_score', rw.level_sum, rw.ratings),
             ('subjects_flagged', rw.flagged, NULL),
             ('remediation_on_time', coalesce(rem.on_time, 0), rw.flagged),
             ('remediation_overdue', coalesce(rem.overdue, 0), NULL),
             ('remediation_missing', coalesce(rem.missing, 0), NULL),
             ('ward_reporting_timeliness',
              CASE WHEN rw.last_received IS NOT NULL
                    AND (rw.last_received AT TIME ZONE 'Asia/Ho_Chi_Minh')::date
                        <= least(rw.closes_on, asof.d) THEN 1 ELSE 0 END, 1))
             v (code, num, den)
    ), pet AS (
        -- In jurisdiction: accepted as the office's own and neither
        -- withdrawn nor transferred, i.e. resolved + in progress.
        SELECT t.ward, sum(t.n) AS received,
               coalesce(sum(t.n) FILTER (WHERE t.in_jurisdiction
                   AND t.status NOT IN ('withdrawn', 'transferred')), 0)
                   AS in_jur,
               coalesce(sum(t.n) FILTER (WHERE t.in_jurisdiction
                                         AND t.status = 'resolved'), 0)
                   AS resolved,
               coalesce(sum(t.n) FILTER (WHERE t.in_jurisdiction AND t.status
                   NOT IN ('resolved', 'withdrawn', 'transferred')), 0) AS open
          FROM petition_tallies t
         WHERE (p_from IS NULL OR t.received_on >= p_from)
           AND (p_to IS NULL OR t.received_on < p_to)
         GROUP BY t.ward
    ), deadlines AS (
        SELECT d.*, d.resolved_on - d.accepted_on AS days_to_resolve,
               asof.d - d.received_on AS age,
               d.received_on <= asof.d AS received_by_as_of
          FROM asof
         CROSS JOIN LATERAL petition_deadlines(asof.d, p_due_soon) d
         WHERE (p_from IS NULL OR d.received_on >= p_from)
           AND (p_to IS NULL OR d.received_on < p_to)
    ), dl AS (
        SELECT d.ward,
               count(*) FILTER (WHERE d.state = 'resolved_on_time') AS on_time,
               count(*) FILTER (WHERE d.state IN ('resolved_on_time',
                                                  'resolved_late')) AS resolved,
               count(*) FILTER (WHERE d.received_by_as_of
                                AND d.state = 'overdue') AS overdue,
               count(*) FILTER (WHERE d.received_by_as_of
                                AND d.state IN ('on_time', 'due_soon', 'overdue')
                                AND d.age <= 15) AS age_0_15,
               count(*) FILTER (WHERE d.received_by_as_of
                                AND d.state IN ('on_time', 'due_soon', 'overdue')
                                AND d.age BETWEEN 16 AND 30) AS age_16_30,
               count(*) FILTER (WHERE d.received_by_as_of
                                AND d.state IN ('on_time', 'due_soon', 'overdue')
                                AND d.age BETWEEN 31 AND 45) AS age_31_45,
               count(*) FILTER (WHERE d.received_by_as_of
                                AND d.state IN ('on_time', 'due_soon', 'overdue')
                                AND d.age > 45) AS age_over_45
          FROM deadlines d GROUP BY d.ward
    ), rec_span AS (
        -- Weeks in the period that have begun by the as-of day: from the
        -- week of its first day (unbounded: of the first session recorded
        -- anywhere) to the week of min(as-of, its last day).
        SELECT greatest((date_trunc('week',
                             least(coalesce(p_to - 1, asof.d), asof.d))::date
                         - date_trunc('week',
                             coalesce(p_from, min(t.held_on)))::date)
                        / 7 + 1, 0) AS weeks
          FROM asof
          LEFT JOIN reception_tallies t ON t.sessions > 0
         GROUP BY asof.d
    ), rec AS (
        SELECT t.ward, sum(t.sessions) AS sessions, sum(t.citizens) AS citizens,
               count(DISTINCT date_trunc('week', t.held_on))
                   FILTER (WHERE t.host_role = 'chair' AND t.sessions > 0
                           AND t.held_on <= asof.d)
                   AS chair_weeks
          FROM reception_tallies t CROSS JOIN asof
         WHERE (p_from IS NULL OR t.held_on >= p_from)
           AND (p_to IS NULL OR t.held_on < p_to)
         GROUP BY t.ward
    ), rej AS (
        SELECT t.ward, sum(t.n) AS n FROM rejected_tallies t
         WHERE t.kind = 'ballot'
           AND (p_from IS NULL OR t.received_on >= p_from)
           AND (p_to IS NULL OR t.received_on < p_to)
         GROUP BY t.ward
    ), period_values (code, member, num, den) AS (
        SELECT v.code, u.code, v.num, v.den
          FROM org_units u
          LEFT JOIN pet ON pet.ward = u.code
          LEFT JOIN dl ON dl.ward = u.code
          LEFT JOIN rec ON rec.ward = u.code
          LEFT JOIN rej ON rej.ward = u.code
         CROSS JOIN rec_span
         CROSS JOIN LATERAL (VALUES
             ('ballots_rejected', coalesce(rej.n, 0)::numeric, NULL::numeric),
             ('petitions_received', coalesce(pet.received, 0), NULL),
             ('petitions_in_jurisdiction', coalesce(pet.in_jur, 0), NULL),
             ('petitions_resolved', coalesce(pet.resolved, 0), NULL),
             ('petitions_in_progress', coalesce(pet.open, 0), NULL),
             ('petition_resolution_rate', coalesce(pet.resolved, 0),
              coalesce(pet.in_jur, 0)),
             ('petition_on_time_rate', coalesce(dl.on_time, 0),
              coalesce(dl.resolved, 0)),
             ('petitions_overdue_open', coalesce(dl.overdue, 0), NULL),
             ('petition_backlog_age_0_15', coalesce(dl.age_0_15, 0), NULL),
             ('petition_backlog_age_16_30', coalesce(dl.age_16_30, 0), NULL),
             ('petition_backlog_age_31_45', coalesce(dl.age_31_45, 0), NULL),
             ('petition_backlog_age_over_45', coalesce(dl.age_over_45, 0), NULL),
             ('reception_sessions', coalesce(rec.sessions, 0), NULL),
             ('reception_citizens', coalesce(rec.citizens, 0), NULL),
             ('citizens_per_session', coalesce(rec.citizens, 0),
              coalesce(rec.sessions, 0)),
             ('chair_reception_weeks', coalesce(rec.chair_weeks, 0),
              coalesce(rec_span.weeks, 0))) v (code, num, den)
    ), additive AS (
        SELECT b.code, s.org_unit, s.name, s.unit_kind, s.sort_key, b.period,
               sum(b.num) AS num,
               CASE WHEN count(b.den) = 0 THEN NULL ELSE sum(b.den) END AS den
          FROM ballot_values b JOIN scope s ON s.member = b.member
         GROUP BY b.code, s.org_unit, s.name, s.unit_kind, s.sort_key, b.period
        UNION ALL
        SELECT v.code, s.org_unit, s.name, s.unit_kind, s.sort_key, p_label,
               sum(v.num),
               CASE WHEN count(v.den) = 0 THEN NULL ELSE sum(v.den) END
          FROM period_values v JOIN scope s ON s.member = v.member
         GROUP BY v.code, s.org_unit, s.name, s.unit_kind, s.sort_key
    ), percentiles AS (
        SELECT c.code, s.org_unit, s.name, s.unit_kind, s.sort_key, p_label,
               round((SELECT percentile_cont(c.fraction) WITHIN GROUP
                       (ORDER BY d.days_to_resolve)
                  FROM deadlines d JOIN scope s2
                    ON s2.member = d.ward AND s2.org_unit = s.org_unit
                 WHERE d.days_to_resolve IS NOT NULL
                   AND d.state IN ('resolved_on_time', 'resolved_late'))::numeric,
                     1) AS num
          FROM (VALUES ('petition_days_to_resolve_p50', 0.5::float8),
                       ('petition_days_to_resolve_p90', 0.9::float8))
                   c (code, fraction)
         CROSS JOIN (SELECT DISTINCT org_unit, name, unit_kind, sort_key
                       FROM scope) s
    ), lag AS (
        -- The stalest agent: the largest now - last contact.
        SELECT 'sync_lag', s.org_unit, s.name, s.unit_kind, s.sort_key,
               p_label,
               round(extract(epoch FROM max(now() - a.last_contact)))::numeric
          FROM (SELECT DISTINCT org_unit, name, unit_kind, sort_key
                  FROM scope) s
          LEFT JOIN scope m ON m.org_unit = s.org_unit
          LEFT JOIN agents a ON a.ward = m.member
         GROUP BY s.org_unit, s.name, s.unit_kind, s.sort_key
    ), all_rows AS (
        SELECT a.code, a.org_unit, a.name, a.unit_kind, a.sort_key, a.period,
               a.num, a.den FROM additive a
        UNION ALL
        SELECT p.code, p.org_unit, p.name, p.unit_kind, p.sort_key, p.p_label,
               p.num, NULL FROM percentiles p
        UNION ALL
        SELECT l.*, NULL FROM lag l
    ), supp AS (
        SELECT b.survey,
               CASE WHEN b.level = 'ward' AND b.ward = b.district
                    THEN b.ward || '-office' ELSE b.ward END AS org_unit,
               b.suppressed
          FROM ballot_suppression(p_suppress_below) b
         WHERE b.level IN ('district', 'ward')
    ), unit_ballots AS (
        SELECT a.period AS survey, a.org_unit, a.num AS ballots
          FROM additive a WHERE a.code = 'ballots_received'
    )
    SELECT r.code, r.org_unit, r.name, r.unit_kind, r.period,
           CASE WHEN x.s THEN NULL ELSE r.num END,
           CASE WHEN x.s THEN NULL ELSE r.den END,
           CASE WHEN x.s THEN NULL
                WHEN d.kind IN ('count', 'seconds') THEN r.num
                WHEN d.kind = 'days' THEN round(r.num, 1)
                WHEN r.den IS NULL OR r.den = 0 THEN NULL
                ELSE round(r.num / r.den, 3) END,
           x.s,
           d.formula
           || CASE WHEN r.code IN ('subjects_flagged', 'remediation_on_time',
                                   'remediation_overdue', 'remediation_missing')
                   THEN format('; flag rule: >= %s ballots and, on any item, '
                               'level-3 share >= %s or level-2-or-3 share >= %s',
                               p_min_ballots, p_level3_share, p_level23_share)
                   ELSE '' END
           || CASE WHEN d.ballot_derived
                   THEN format('; publication: cells of fewer than %s ballots '
                               'suppressed, with complementary suppression',
                               p_suppress_below)
                   ELSE '' END
           || CASE WHEN r.code LIKE 'petition%' AND r.code NOT IN
                        ('petitions_received', 'petitions_in_jurisdiction',
                         'petitions_resolved', 'petitions_in_progress',
                         'petition_resolution_rate')
                   THEN format('; deadlines: petition_deadline_rules, as of %s, '
                               'due soon within %s days',
                               (SELECT d FROM asof), p_due_soon)
                   ELSE '' END,
           d.ord, r.sort_key
      FROM all_rows r
      JOIN indicator_definitions d ON d.code = r.code
      LEFT JOIN supp ON d.ballot_derived AND supp.survey = r.period
                    AND supp.org_unit = r.org_unit
      LEFT JOIN unit_ballots ub ON d.ballot_derived AND ub.survey = r.period
                               AND ub.org_unit = r.org_unit
     CROSS JOIN LATERAL (SELECT coalesce(supp.suppressed,
                                         ub.ballots < p_suppress_below,
                                         false) AS s) x
$$;

-- The definitions' own words, as DESIGN §7 now states them.
UPDATE indicator_definitions SET formula = CASE code
    WHEN 'petitions_in_jurisdiction' THEN
        'petitions received in the period, in jurisdiction and neither '
        'withdrawn nor transferred (resolved + in progress)'
    WHEN 'petition_on_time_rate' THEN
        'resolved with the last resolution on or before the legal due date '
        '/ resolved'
    WHEN 'petition_days_to_resolve_p50' THEN
        'median days from acceptance to the last resolution'
    WHEN 'petition_days_to_resolve_p90' THEN
        '90th percentile of days from acceptance to the last resolution'
    WHEN 'remediation_on_time' THEN
        'plans completed (the event that moved them to completed) by their '
        'due date / flagged subjects'
    WHEN 'sync_lag' THEN
        'now - last contact of the unit''s stalest agent (the largest lag)'
    ELSE formula END;

-- Only the hub and the definer functions of schema published read the
-- unsuppressed figures.
REVOKE EXECUTE ON FUNCTION subject_flags(date, date, integer, numeric,
    numeric) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION flagged_subjects(date, date, date, integer,
    numeric, numeric) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION petition_due_dates(date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION subject_flags(date, date, integer, numeric,
    numeric), flagged_subjects(date, date, date, integer, numeric, numeric),
    petition_due_dates(date) TO wardsync_hub;

-- No JIT for the indicator queries: the planner's estimates over the
-- recursive org tree are far too high (millions of rows for a few
-- hundred), and JIT then spends about 12 s compiling a query that runs in
-- milliseconds. Off for the published view's function, and for every
-- session of this database when the migrating role may say so.
ALTER FUNCTION published_indicator_rows() SET jit = off;
DO $$
BEGIN
    EXECUTE format('ALTER DATABASE %I SET jit = off', current_database());
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'jit left as configured: % may not alter database %',
        current_user, current_database();
END
$$;
