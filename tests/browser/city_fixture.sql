-- A warehouse of three districts for the city report in a browser
-- (tests/browser/city.sh), loaded after city-pull created the schema.
INSERT INTO city.cursors (district, dataset, cursor, updated_at)
SELECT d, ds, 'c100', CASE WHEN d = 'TH' THEN now() - interval '3 days'
                           ELSE now() END
  FROM unnest(ARRAY['LB', 'TH', 'CG']) d,
       unnest(ARRAY['indicators', 'petitions', 'ballot_aggregates',
                    'sync_status']) ds;
INSERT INTO city.petitions (district, row_key, change, op, loaded_at, ward,
                            petition, status, overdue, history)
SELECT d, w || '/P-' || n, n, 'insert', now(), w, 'P-' || n,
       CASE WHEN n % 3 = 0 THEN 'resolved' ELSE 'accepted' END,
       n % 5 = 0, '[]'
  FROM (VALUES ('LB', 'LB01', 12), ('LB', 'LB02', 7), ('TH', 'TH01', 20),
               ('CG', 'CG01', 4)) v (d, w, k),
       generate_series(1, k) n;
INSERT INTO city.sync_status (district, row_key, change, op, loaded_at, ward,
                              agent_instance, last_contact, lag_seconds,
                              backlog, rejected)
VALUES ('LB', 'LB01/a', 1, 'insert', now(), 'LB01', 'a', now(), 5, 0, 0),
       ('TH', 'TH01/b', 1, 'insert', now(), 'TH01', 'b', now(), 90, 3, 1),
       ('CG', 'CG01/c', 1, 'insert', now(), 'CG01', 'c', now(), 12, 0, 0);
INSERT INTO city.ballot_aggregates (district, row_key, change, op, loaded_at,
                                    survey, ward, subject, form, item,
                                    respondent_group, suppressed, ballots)
VALUES ('LB', 'R1/LB01/S01/f/1/all', 1, 'insert', now(), 'R1', 'LB01', 'S01',
        'f', 1, 'all', false, 40),
       ('TH', 'R1/TH01/S01/f/1/all', 1, 'insert', now(), 'R1', 'TH01', 'S01',
        'f', 1, 'all', false, 25),
       ('CG', 'R1/CG01/S01/f/1/all', 1, 'insert', now(), 'R1', 'CG01', 'S01',
        'f', 1, 'all', false, 60);
INSERT INTO city.indicators (district, row_key, change, op, loaded_at, code,
                             org_unit, name, unit_kind, period, value,
                             suppressed)
VALUES ('LB', 'petitions_received/LB/all', 1, 'insert', now(),
        'petitions_received', 'LB', 'Long Biên', 'rollup', 'all', 19, false),
       ('TH', 'petitions_received/TH/all', 1, 'insert', now(),
        'petitions_received', 'TH', 'Tây Hồ', 'rollup', 'all', 20, false),
       ('CG', 'petitions_received/CG/all', 1, 'insert', now(),
        'petitions_received', 'CG', 'Cầu Giấy', 'rollup', 'all', 4, false);
