-- A small, deterministic district for the report test: every chart gets a
-- known number of bars. Loaded as the owner after "district-hub migrate".
-- Rows are written straight into the tables (each with its raw event, as
-- the hub would) so that the test needs no running hub.
BEGIN;

INSERT INTO survey_rounds (code, label, opens_on, closes_on, state)
VALUES ('R2026', 'Đợt lấy phiếu 2026', '2026-01-01', '2026-12-31', 'open');
INSERT INTO survey_round_forms VALUES ('R2026', 'leadership', 'leadership');
INSERT INTO survey_round_wards VALUES ('R2026', 'LB01', 20), ('R2026', 'LB02', 20);
INSERT INTO survey_round_subjects
VALUES ('R2026', 'LB01', 'S01', 'leadership'),
       ('R2026', 'LB02', 'S02', 'leadership');

INSERT INTO agents (ward, agent_instance, committed_through)
VALUES ('LB01', 'browser-1', 100), ('LB02', 'browser-2', 100),
       ('LB03', 'browser-3', 100);

-- n events per (ward, kind), seq numbered per agent.
CREATE TEMP TABLE fx_events AS
SELECT gen_random_uuid() AS event_id, w.ward, 'browser-' || right(w.ward, 1)
           AS agent_instance, k.kind, g AS n
  FROM (VALUES ('LB01'), ('LB02'), ('LB03')) w (ward)
 CROSS JOIN (VALUES ('ballot'), ('petition'), ('reception')) k (kind)
 CROSS JOIN generate_series(1, 12) g;
UPDATE fx_events SET agent_instance = 'browser-' || right(ward, 1);

INSERT INTO events (event_id, ward, agent_instance, seq, kind, occurred_at,
                    payload, payload_sha256)
SELECT event_id, ward, agent_instance,
       row_number() OVER (PARTITION BY ward ORDER BY kind, n), kind,
       '2026-10-01'::timestamptz, '\x00', sha256('\x00')
  FROM fx_events;

-- 12 ballots for S01 in LB01 (published), 3 for S02 in LB02 (suppressed):
-- every level appears in every content group.
INSERT INTO ballots (event_id, ward, survey, form, subject, respondent_group,
                     collected_on, levels)
SELECT event_id, ward, 'R2026', 'leadership',
       CASE ward WHEN 'LB01' THEN 'S01' ELSE 'S02' END, 1 + n % 4,
       '2026-10-01',
       ARRAY(SELECT (1 + (i + n) % 3)::smallint
               FROM generate_series(1, 41) i ORDER BY i)
  FROM fx_events
 WHERE kind = 'ballot' AND (ward = 'LB01' OR (ward = 'LB02' AND n <= 3));

-- Petitions: open ones of every age, resolved ones in LB01 and LB02.
INSERT INTO petitions (ward, petition, kind, channel, status,
                       in_jurisdiction, received_on, due_on, note,
                       updated_at, last_seq, last_event_id)
SELECT e.ward, 'P-' || e.n, 'complaint', 'in_person',
       CASE WHEN e.ward = 'LB03' THEN 'in_progress' WHEN e.n <= 4
            THEN 'resolved' ELSE 'accepted' END,
       true, current_date - (e.n * 5), current_date - (e.n * 5) + 30,
       'Đơn của công dân phường ' || e.ward,
       CASE WHEN e.n <= 2 THEN current_date - (e.n * 5) + 10
            ELSE current_date END,
       e.n, e.event_id
  FROM fx_events e WHERE e.kind = 'petition';

-- Reception: sessions in three ISO weeks.
INSERT INTO reception_sessions (ward, session, held_on, host_role, mode,
                                citizens, petitions, updated_at, last_seq,
                                last_event_id)
SELECT e.ward, 'T-' || e.n, date '2026-09-07' + 7 * (e.n % 3),
       CASE WHEN e.n % 2 = 0 THEN 'chair' ELSE 'vice_chair' END, 'regular',
       e.n, 1, now(), e.n, e.event_id
  FROM fx_events e WHERE e.kind = 'reception';

-- Remediation: one plan per status, one of them overdue.
INSERT INTO remediation_plans (ward, survey, subject, status, due_on,
                               updated_at, last_seq, last_event_id)
SELECT 'LB01', 'R2026', s.subject, s.status, s.due_on, now(), 1,
       (SELECT event_id FROM fx_events WHERE ward = 'LB01' AND kind = 'ballot'
         AND n = 1)
  FROM (VALUES ('S01', 'required', current_date - 3),
               ('S03', 'submitted', current_date + 20),
               ('S04', 'completed', current_date - 10)) s (subject, status,
                                                           due_on);
COMMIT;
