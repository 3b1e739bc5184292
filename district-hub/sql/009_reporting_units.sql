-- 009_reporting_units.sql - two definitions the independent recount
-- (tests/recount) found the hub counting otherwise than the documents
-- (issue #10; docs/DESIGN.md §6, §7):
--
--   * in jurisdiction is accepted and not withdrawn: resolved + in
--     progress (accepted or in_progress). A petition received and not yet
--     accepted was counted in jurisdiction and in progress; it is neither
--     (it is still open: overdue against its acceptance deadline, in the
--     backlog, as before);
--   * the weeks of chair_reception_weeks count only for units that
--     report: wards, units of kind district, and any other unit with an
--     agent of its own (reporting_units). A city above its districts has
--     an office row like every unit with children, but no chair who
--     receives citizens here: its weeks were in the city's denominator,
--     which read 82/688 instead of 82/645 on a generated district.
--
-- indicator_values() is 006's, whole (CREATE OR REPLACE, same
-- signature), with those two changes.

-- The org units that report to this hub: the rule of who owes figures,
-- once. A ward and a district always do; a unit of another kind (a city)
-- does once an agent of its own has sent something.
CREATE VIEW reporting_units (code) AS
    SELECT u.code FROM org_units u
     WHERE u.kind IN ('ward', 'district')
        OR EXISTS (SELECT 1 FROM agents a WHERE a.ward = u.code);

GRANT SELECT ON reporting_units TO wardsync_hub;

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
        -- In jurisdiction (docs/DESIGN.md §6): accepted as the office's own
        -- and not withdrawn, i.e. resolved + in progress; a petition
        -- received and not yet accepted is neither (009).
        SELECT t.ward, sum(t.n) AS received,
               coalesce(sum(t.n) FILTER (WHERE t.in_jurisdiction
                   AND t.status IN ('accepted', 'in_progress', 'resolved')), 0)
                   AS in_jur,
               coalesce(sum(t.n) FILTER (WHERE t.in_jurisdiction
                                         AND t.status = 'resolved'), 0)
                   AS resolved,
               coalesce(sum(t.n) FILTER (WHERE t.in_jurisdiction
                   AND t.status IN ('accepted', 'in_progress')), 0) AS open
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
    ), rot_setting AS MATERIALIZED (
        SELECT s.rotation_years AS years FROM indicator_settings s
    ), insp AS (
        -- Inspections held in the period, from the tally. Bodies and
        -- units are distinct within the records of one sender; a rollup
        -- sums its members' counts.
        SELECT t.ward, sum(t.inspections) AS held,
               coalesce(sum(t.inspections) FILTER (WHERE t.kind = 'party'), 0)
                   AS held_party,
               coalesce(sum(t.inspections) FILTER (WHERE t.kind = 'planned'), 0)
                   AS held_planned,
               coalesce(sum(t.inspections)
                        FILTER (WHERE t.kind = 'unannounced'), 0)
                   AS held_unannounced,
               count(DISTINCT t.body) FILTER (WHERE t.inspections > 0
                   AND t.kind IN ('planned', 'unannounced')) AS teams,
               count(DISTINCT t.unit) FILTER (WHERE t.inspections > 0)
                   AS units,
               count(DISTINCT t.unit) FILTER (WHERE t.inspections > 0
                   AND t.kind = 'party') AS units_party,
               count(DISTINCT t.unit) FILTER (WHERE t.inspections > 0
                   AND t.kind = 'planned') AS units_planned,
               count(DISTINCT t.unit) FILTER (WHERE t.inspections > 0
                   AND t.kind = 'unannounced') AS units_unannounced,
               coalesce(sum(t.subjects) FILTER (WHERE t.kind = 'party'), 0)
                   AS party_members,
               sum(t.violations) AS violations
          FROM inspection_tallies t
         WHERE (p_from IS NULL OR t.held_on >= p_from)
           AND (p_to IS NULL OR t.held_on < p_to)
         GROUP BY t.ward
    ), rot AS (
        -- Appointments and rotations dated in the period, from the tally;
        -- rotated_due: rotations after the threshold's years or more.
        SELECT t.ward,
               coalesce(sum(t.n) FILTER (WHERE t.kind = 'appointed'), 0)
                   AS appointed,
               coalesce(sum(t.n) FILTER (WHERE t.kind = 'rotated'), 0)
                   AS rotated,
               coalesce(sum(t.n) FILTER (WHERE t.kind = 'rotated'
                                         AND t.years_in_post >= rs.years), 0)
                   AS rotated_due
          FROM rotation_tallies t CROSS JOIN rot_setting rs
         WHERE (p_from IS NULL OR t.effective_on >= p_from)
           AND (p_to IS NULL OR t.effective_on < p_to)
         GROUP BY t.ward
    ), rot_due AS (
        -- Cadres due for rotation on the as-of day A: each cadre's latest
        -- record dated on or before A (on one day an appointment is later
        -- than a rotation, which is later than a roster line) is not a
        -- rotation, and the cadre has held that post since effective_on
        -- minus years_in_post; due when that start plus the threshold's
        -- years is on or before A (exactly 8 years counts).
        SELECT x.ward, count(*) AS due
          FROM (SELECT DISTINCT ON (r.ward, r.cadre)
                       r.ward, r.kind, r.effective_on, r.years_in_post
                  FROM rotations r CROSS JOIN asof
                 WHERE r.effective_on <= asof.d
                 ORDER BY r.ward, r.cadre, r.effective_on DESC,
                          CASE r.kind WHEN 'appointed' THEN 0
                                      WHEN 'rotated' THEN 1 ELSE 2 END) x
         CROSS JOIN asof CROSS JOIN rot_setting rs
         WHERE x.kind <> 'rotated'
           AND ((x.effective_on - make_interval(years => x.years_in_post))
                + make_interval(years => rs.years))::date <= asof.d
         GROUP BY x.ward
    ), period_values (code, member, num, den) AS (
        SELECT v.code, u.code, v.num, v.den
          FROM org_units u
          LEFT JOIN pet ON pet.ward = u.code
          LEFT JOIN dl ON dl.ward = u.code
          LEFT JOIN rec ON rec.ward = u.code
          LEFT JOIN rej ON rej.ward = u.code
          LEFT JOIN insp ON insp.ward = u.code
          LEFT JOIN rot ON rot.ward = u.code
          LEFT JOIN rot_due ON rot_due.ward = u.code
          LEFT JOIN reporting_units ru ON ru.code = u.code
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
              CASE WHEN ru.code IS NOT NULL THEN coalesce(rec_span.weeks, 0)
                   ELSE 0 END),
             ('inspections_held', coalesce(insp.held, 0), NULL),
             ('inspections_held_party', coalesce(insp.held_party, 0), NULL),
             ('inspections_held_planned', coalesce(insp.held_planned, 0), NULL),
             ('inspections_held_unannounced',
              coalesce(insp.held_unannounced, 0), NULL),
             ('inspection_teams', coalesce(insp.teams, 0), NULL),
             ('units_inspected', coalesce(insp.units, 0), NULL),
             ('units_inspected_party', coalesce(insp.units_party, 0), NULL),
             ('units_inspected_planned', coalesce(insp.units_planned, 0), NULL),
             ('units_inspected_unannounced',
              coalesce(insp.units_unannounced, 0), NULL),
             ('party_members_inspected', coalesce(insp.party_members, 0), NULL),
             ('inspection_violations', coalesce(insp.violations, 0), NULL),
             ('cadres_appointed', coalesce(rot.appointed, 0), NULL),
             ('cadres_rotated', coalesce(rot.rotated, 0), NULL),
             ('cadres_due_rotation', coalesce(rot_due.due, 0), NULL),
             ('rotation_compliance', coalesce(rot.rotated_due, 0),
              coalesce(rot.rotated_due, 0) + coalesce(rot_due.due, 0)))
             v (code, num, den)
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
                   ELSE '' END
           || CASE WHEN r.code IN ('cadres_rotated', 'cadres_due_rotation',
                                   'rotation_compliance')
                   THEN format('; rotation rule: %s years or more in one post'
                               ', as of %s',
                               (SELECT rs.years FROM rot_setting rs),
                               (SELECT d FROM asof))
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

UPDATE indicator_definitions SET formula = CASE code
    WHEN 'petitions_in_jurisdiction' THEN
        'petitions received in the period, accepted and not withdrawn nor '
        'transferred (resolved + in progress)'
    WHEN 'petitions_in_progress' THEN
        'of those, accepted or in progress, not yet resolved'
    WHEN 'chair_reception_weeks' THEN
        'weeks with a session hosted by the chair / weeks in the period, '
        'for each reporting unit (wards, the district office)'
    ELSE formula END;
