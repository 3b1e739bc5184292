-- 006_indicators: every indicator of DESIGN §7 computed from the tallies
-- of 004 (issue 5 parts 5 and 6).
--
-- indicator_values() is what both "district-hub indicators" and the
-- published view read, so the operator sees exactly what the city gets.
-- It reads tallies (a few thousand rows at most), never the ballots.
--
-- Org unit rows: each ward; "<district>-office", the district office's
-- own records; "<district>", the rollup over the office and all wards.
-- Ballot-derived indicators are per survey round (period = round code,
-- rounds whose dates meet the period) and have rows only for the wards a
-- round covers; the others are per period (period = its label).
--
-- Publication rule (DESIGN §7): a ballot-derived cell that counts fewer
-- than suppress_below ballots is published suppressed (no numbers), and
-- complementary cells are suppressed so that none can be recovered by
-- subtraction: see ballot_suppression().

CREATE TABLE indicator_definitions (
    code text PRIMARY KEY,
    ord integer NOT NULL UNIQUE,
    kind text NOT NULL CHECK (kind IN ('count', 'ratio', 'days', 'seconds')),
    ballot_derived boolean NOT NULL,
    formula text NOT NULL
);

INSERT INTO indicator_definitions VALUES
 ('ballots_received', 1, 'count', true, 'valid ballots of the round'),
 ('ballot_completeness', 2, 'ratio', true, 'valid ballots / expected ballots'),
 ('ballots_rejected', 3, 'count', false, 'rejected ballot events received in the period'),
 ('subject_score', 4, 'ratio', true, 'sum of levels / ratings (mean level over the subjects'' items)'),
 ('subjects_flagged', 5, 'count', true, 'subjects meeting the flag rule'),
 ('remediation_on_time', 6, 'ratio', true, 'plans completed by their due date / flagged subjects'),
 ('remediation_overdue', 7, 'count', true, 'flagged subjects past the plan''s due date without a completed plan'),
 ('remediation_missing', 8, 'count', true, 'flagged subjects without any plan'),
 ('ward_reporting_timeliness', 9, 'ratio', false, 'wards whose last ballot arrived by the round''s close date / wards of the round'),
 ('petitions_received', 10, 'count', false, 'petitions received in the period'),
 ('petitions_in_jurisdiction', 11, 'count', false, 'petitions received in the period, in jurisdiction'),
 ('petitions_resolved', 12, 'count', false, 'of those, resolved'),
 ('petitions_in_progress', 13, 'count', false, 'of those, neither resolved, withdrawn nor transferred'),
 ('petition_resolution_rate', 14, 'ratio', false, 'resolved / in jurisdiction'),
 ('petition_on_time_rate', 15, 'ratio', false, 'resolved by the due date / resolved'),
 ('petitions_overdue_open', 16, 'count', false, 'open petitions past their due date on the as-of day'),
 ('petition_days_to_resolve_p50', 17, 'days', false, 'median days from acceptance to resolution'),
 ('petition_days_to_resolve_p90', 18, 'days', false, '90th percentile of days from acceptance to resolution'),
 ('petition_backlog_age_0_15', 19, 'count', false, 'open petitions 0-15 days old on the as-of day'),
 ('petition_backlog_age_16_30', 20, 'count', false, 'open petitions 16-30 days old'),
 ('petition_backlog_age_31_45', 21, 'count', false, 'open petitions 31-45 days old'),
 ('petition_backlog_age_over_45', 22, 'count', false, 'open petitions over 45 days old'),
 ('reception_sessions', 23, 'count', false, 'reception sessions held in the period'),
 ('reception_citizens', 24, 'count', false, 'citizens received in the period'),
 ('citizens_per_session', 25, 'ratio', false, 'citizens / sessions'),
 ('chair_reception_weeks', 26, 'ratio', false, 'weeks with a session hosted by the chair / weeks in the period'),
 ('sync_lag', 27, 'seconds', false, 'now - last committed batch, the largest over the unit''s agents');

CREATE VIEW indicator_scope (org_unit, name, unit_kind, sort_key, member) AS
    SELECT u.code, u.name, 'ward', coalesce(u.parent, '') || '/0/' || u.code,
           u.code
      FROM org_units u WHERE u.kind = 'ward'
    UNION ALL
    SELECT d.code || '-office', d.name, 'office', d.code || '/1', d.code
      FROM org_units d WHERE d.kind = 'district'
    UNION ALL
    SELECT d.code, d.name, 'rollup', d.code || '/2', m.code
      FROM org_units d JOIN org_units m
        ON m.code = d.code OR (m.parent = d.code AND m.kind = 'ward')
     WHERE d.kind = 'district';

-- Which ballot cells may be published, for every round: level 'district'
-- (ward = district code), 'ward', 'subject' and 'group' (respondent group
-- 1..4 of a subject). A cell is suppressed when it counts fewer than k
-- ballots (primary), and then, level by level from the top, so that no
-- suppressed cell equals a published total minus published cells:
--   wards of a district: if exactly one is suppressed, so is the next
--     smallest; all are when the district total is;
--   subjects of a ward: at least two are suppressed whenever one is or
--     when the ward itself is (else the ward total would follow from its
--     subjects), all when the ward has fewer than two;
--   groups of a subject: all when the subject is, else if exactly one is
--     suppressed, so is the next smallest.
-- Ties are broken by code, so the result is deterministic.
CREATE FUNCTION ballot_suppression(k integer)
RETURNS TABLE (level text, survey text, district text, ward text,
               subject text, respondent_group smallint, ballots bigint,
               suppressed boolean)
LANGUAGE sql STABLE AS $$
    WITH grp AS (
        SELECT s.round AS survey, s.ward, s.subject, g.g::smallint AS rg,
               coalesce(c.ballots, 0) AS n
          FROM survey_round_subjects s
         CROSS JOIN generate_series(1, 4) AS g (g)
          LEFT JOIN ballot_counts c
            ON c.survey = s.round AND c.ward = s.ward
           AND c.subject = s.subject AND c.respondent_group = g.g
    ), subj AS (
        SELECT survey, ward, subject, sum(n)::bigint AS n
          FROM grp GROUP BY survey, ward, subject
    ), wrd AS (
        SELECT w.round AS survey, w.ward,
               CASE WHEN u.kind = 'district' THEN u.code ELSE u.parent END
                   AS district,
               coalesce((SELECT sum(s.n) FROM subj s
                          WHERE s.survey = w.round AND s.ward = w.ward), 0)::bigint AS n,
               (SELECT count(*) FROM subj s
                 WHERE s.survey = w.round AND s.ward = w.ward) AS n_subjects
          FROM survey_round_wards w JOIN org_units u ON u.code = w.ward
    ), dist AS (
        SELECT survey, district, sum(n)::bigint AS n, (sum(n) < k) AS supp
          FROM wrd GROUP BY survey, district
    ), wrd_ranked AS (
        SELECT w.*, d.supp AS dist_supp, (w.n < k) AS primary_supp,
               count(*) FILTER (WHERE w.n < k)
                   OVER (PARTITION BY w.survey, w.district) AS m,
               count(*) OVER (PARTITION BY w.survey, w.district) AS n_wards,
               row_number() OVER (PARTITION BY w.survey, w.district
                                  ORDER BY (w.n < k) DESC, w.n, w.ward) AS rn
          FROM wrd w JOIN dist d USING (survey, district)
    ), wrd_dec AS (
        SELECT *, rn <= CASE WHEN dist_supp THEN n_wards
                             WHEN m = 1 THEN 2 ELSE m END AS supp
          FROM wrd_ranked
    ), subj_ranked AS (
        SELECT s.*, w.supp AS ward_supp, w.n_subjects, w.district,
               count(*) FILTER (WHERE s.n < k)
                   OVER (PARTITION BY s.survey, s.ward) AS m,
               row_number() OVER (PARTITION BY s.survey, s.ward
                                  ORDER BY (s.n < k) DESC, s.n, s.subject) AS rn
          FROM subj s JOIN wrd_dec w USING (survey, ward)
    ), subj_dec AS (
        SELECT *, rn <= CASE
                   WHEN n_subjects < 2 AND (ward_supp OR m > 0) THEN n_subjects
                   WHEN ward_supp OR m = 1 THEN greatest(m, 2)
                   ELSE m END AS supp
          FROM subj_ranked
    ), grp_ranked AS (
        SELECT g.*, s.supp AS subj_supp, s.district,
               count(*) FILTER (WHERE g.n < k)
                   OVER (PARTITION BY g.survey, g.ward, g.subject) AS m,
               row_number() OVER (PARTITION BY g.survey, g.ward, g.subject
                                  ORDER BY (g.n < k) DESC, g.n, g.rg) AS rn
          FROM grp g JOIN subj_dec s USING (survey, ward, subject)
    )
    SELECT 'district', survey, district, district, NULL, NULL::smallint, n, supp
      FROM dist
    UNION ALL
    SELECT 'ward', survey, district, ward, NULL, NULL, n, supp FROM wrd_dec
    UNION ALL
    SELECT 'subject', survey, district, ward, subject, NULL, n, supp
      FROM subj_dec
    UNION ALL
    SELECT 'group', survey, district, ward, subject, rg, n,
           rn <= CASE WHEN subj_supp THEN 4 WHEN m = 1 THEN 2 ELSE m END
      FROM grp_ranked
$$;

-- Every indicator row, with the publication rule applied. p_from, p_to:
-- the period [from, to) (NULL: unbounded); p_label: the period column;
-- p_as_of: the day deadlines and ages are judged on; then the flag rule,
-- the "due soon" window and the suppression threshold.
CREATE FUNCTION indicator_values(p_from date, p_to date, p_label text,
                                 p_as_of date, p_min_ballots integer,
                                 p_level3_share numeric,
                                 p_level23_share numeric,
                                 p_due_soon integer, p_suppress_below integer)
RETURNS TABLE (code text, org_unit text, name text, unit_kind text,
               period text, numerator numeric, denominator numeric,
               value numeric, suppressed boolean, rule text, ord integer,
               sort_key text)
LANGUAGE sql STABLE AS $$
    WITH rounds AS (
        SELECT r.code, r.opens_on, r.closes_on FROM survey_rounds r
         WHERE (p_from IS NULL OR r.closes_on >= p_from)
           AND (p_to IS NULL OR r.opens_on < p_to)
    ), subj AS (
        SELECT c.survey, c.ward, c.subject, c.ballots, i.level_sum,
               i.ratings,
               c.ballots >= p_min_ballots AND i.any_item_over AS flagged
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
                  FROM ballot_item_tallies t JOIN rounds r ON r.code = t.survey
                 GROUP BY t.survey, t.ward, t.subject) i
         USING (survey, ward, subject)
    ), rem AS (
        SELECT s.survey, s.ward,
               count(*) FILTER (WHERE p.status = 'completed'
                   AND (p.updated_at AT TIME ZONE 'UTC')::date <= p.due_on)
                   AS on_time,
               count(*) FILTER (WHERE p.subject IS NOT NULL
                   AND p.status <> 'completed' AND p.due_on < p_as_of)
                   AS overdue,
               count(*) FILTER (WHERE p.subject IS NULL) AS missing
          FROM subj s
          LEFT JOIN remediation_plans p
            ON p.survey = s.survey AND p.ward = s.ward
           AND p.subject = s.subject
         WHERE s.flagged
         GROUP BY s.survey, s.ward
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
                        <= rw.closes_on THEN 1 ELSE 0 END, 1)) v (code, num, den)
    ), pet AS (
        SELECT t.ward, sum(t.n) AS received,
               coalesce(sum(t.n) FILTER (WHERE t.in_jurisdiction), 0) AS in_jur,
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
               p_as_of - d.received_on AS age
          FROM petition_deadlines(p_as_of, p_due_soon) d
         WHERE (p_from IS NULL OR d.received_on >= p_from)
           AND (p_to IS NULL OR d.received_on < p_to)
    ), dl AS (
        SELECT d.ward,
               count(*) FILTER (WHERE d.state = 'resolved_on_time') AS on_time,
               count(*) FILTER (WHERE d.state IN ('resolved_on_time',
                                                  'resolved_late')) AS resolved,
               count(*) FILTER (WHERE d.state = 'overdue') AS overdue,
               count(*) FILTER (WHERE d.state IN ('on_time', 'due_soon', 'overdue')
                                AND d.age <= 15) AS age_0_15,
               count(*) FILTER (WHERE d.state IN ('on_time', 'due_soon', 'overdue')
                                AND d.age BETWEEN 16 AND 30) AS age_16_30,
               count(*) FILTER (WHERE d.state IN ('on_time', 'due_soon', 'overdue')
                                AND d.age BETWEEN 31 AND 45) AS age_31_45,
               count(*) FILTER (WHERE d.state IN ('on_time', 'due_soon', 'overdue')
                                AND d.age > 45) AS age_over_45
          FROM deadlines d GROUP BY d.ward
    ), rec_span AS (
        -- Weeks in the period: the period's own when bounded, else from
        -- the first to the last session recorded anywhere.
        SELECT ((date_trunc('week', coalesce(p_to - 1, max(t.held_on)))::date
                 - date_trunc('week', coalesce(p_from, min(t.held_on)))::date)
                / 7 + 1) AS weeks
          FROM reception_tallies t WHERE t.sessions > 0
    ), rec AS (
        SELECT t.ward, sum(t.sessions) AS sessions, sum(t.citizens) AS citizens,
               count(DISTINCT date_trunc('week', t.held_on))
                   FILTER (WHERE t.host_role = 'chair' AND t.sessions > 0)
                   AS chair_weeks
          FROM reception_tallies t
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
         WHERE u.kind IN ('ward', 'district')
    ), additive AS (
        SELECT b.code, s.org_unit, s.name, s.unit_kind, s.sort_key, b.period,
               sum(b.num) AS num,
               CASE WHEN count(b.den) = 0 THEN NULL ELSE sum(b.den) END AS den
          FROM ballot_values b JOIN indicator_scope s ON s.member = b.member
         GROUP BY b.code, s.org_unit, s.name, s.unit_kind, s.sort_key, b.period
        UNION ALL
        SELECT v.code, s.org_unit, s.name, s.unit_kind, s.sort_key, p_label,
               sum(v.num),
               CASE WHEN count(v.den) = 0 THEN NULL ELSE sum(v.den) END
          FROM period_values v JOIN indicator_scope s ON s.member = v.member
         GROUP BY v.code, s.org_unit, s.name, s.unit_kind, s.sort_key
    ), percentiles AS (
        SELECT c.code, s.org_unit, s.name, s.unit_kind, s.sort_key, p_label,
               (SELECT percentile_cont(c.fraction) WITHIN GROUP
                       (ORDER BY d.days_to_resolve)
                  FROM deadlines d JOIN indicator_scope s2
                    ON s2.member = d.ward AND s2.org_unit = s.org_unit
                 WHERE d.days_to_resolve IS NOT NULL
                   AND d.state IN ('resolved_on_time', 'resolved_late'))::numeric
                   AS num
          FROM (VALUES ('petition_days_to_resolve_p50', 0.5::float8),
                       ('petition_days_to_resolve_p90', 0.9::float8))
                   c (code, fraction)
         CROSS JOIN (SELECT DISTINCT org_unit, name, unit_kind, sort_key
                       FROM indicator_scope) s
    ), lag AS (
        SELECT 'sync_lag', s.org_unit, s.name, s.unit_kind, s.sort_key,
               p_label,
               round(extract(epoch FROM now() - max(a.last_contact)))::numeric
          FROM (SELECT DISTINCT org_unit, name, unit_kind, sort_key
                  FROM indicator_scope) s
          LEFT JOIN indicator_scope m ON m.org_unit = s.org_unit
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
    )
    SELECT r.code, r.org_unit, r.name, r.unit_kind, r.period,
           CASE WHEN x.s THEN NULL ELSE r.num END,
           CASE WHEN x.s THEN NULL ELSE r.den END,
           CASE WHEN x.s THEN NULL
                WHEN d.kind IN ('count', 'days', 'seconds') THEN r.num
                WHEN r.den IS NULL OR r.den = 0 THEN NULL
                ELSE round(r.num / r.den, 6) END,
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
                               'due soon within %s days', p_as_of, p_due_soon)
                   ELSE '' END,
           d.ord, r.sort_key
      FROM all_rows r
      JOIN indicator_definitions d ON d.code = r.code
      LEFT JOIN supp ON d.ballot_derived AND supp.survey = r.period
                    AND supp.org_unit = r.org_unit
     CROSS JOIN LATERAL (SELECT coalesce(supp.suppressed, false) AS s) x
$$;
