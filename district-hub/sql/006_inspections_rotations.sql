-- 006_inspections_rotations: public-service inspections and job rotation,
-- end to end (docs/DESIGN.md §6, §7; issue #15).
--
-- Self-contained: it adds the event kinds "inspection" and "rotation"
-- (the events CHECK), their tables (inspections: current state by
-- inspection code; rotations: one row per cadre + post + unit + kind +
-- date), their tallies kept by statement triggers in the writer's
-- transaction, the rotation threshold (indicator_settings.rotation_years,
-- 8), the indicator definitions, and the published views
-- published.inspections and published.rotations (no cadre code). It
-- replaces whole (CREATE OR REPLACE, same signatures, the body of 002 or
-- 004 copied and the new kinds added): ingest_stage_create() and
-- ingest_store() of 002, the one writer, and indicator_values() of 004,
-- every existing indicator unchanged.

-- ---------------------------------------------------------------------
-- The event log takes the two new kinds.

ALTER TABLE events DROP CONSTRAINT events_kind_check;
ALTER TABLE events ADD CONSTRAINT events_kind_check
    CHECK (kind IN ('ballot', 'petition', 'reception', 'remediation',
                    'inspection', 'rotation'));

-- ---------------------------------------------------------------------
-- Inspections (thanh tra, kiểm tra; Inspection in events.proto): the
-- current state of each inspection of the sender's register, the newest
-- event by (occurred_at, seq). One row is one inspection of one unit by
-- one body; a team that inspects many units has one row per unit, each
-- under the team's body code.
CREATE TABLE inspections (
    ward text NOT NULL,
    inspection text NOT NULL,
    body text NOT NULL,
    unit text NOT NULL,
    held_on date NOT NULL,
    kind text NOT NULL CHECK (kind IN ('party', 'planned', 'unannounced')),
    subjects integer NOT NULL CHECK (subjects BETWEEN 0 AND 10000),
    violations integer NOT NULL CHECK (violations BETWEEN 0 AND 10000),
    note text NOT NULL DEFAULT '',
    updated_at timestamptz NOT NULL,
    last_seq bigint NOT NULL,
    last_event_id uuid NOT NULL,
    PRIMARY KEY (ward, inspection)
);

-- Job rotation (luân chuyển, điều động, bổ nhiệm; Rotation in
-- events.proto): one row per fact, keyed as the agent keys a row
-- (cadre + post + unit + kind + date); the same key sent again replaces
-- it. cadre is pseudonymous and never leaves the hub: published.rotations
-- names a row by id. The whole register is the history of every cadre,
-- which cadres_due_rotation reads (a stock on a day, not a sum of tallies).
CREATE TABLE rotations (
    id bigserial NOT NULL UNIQUE,
    ward text NOT NULL,
    cadre text NOT NULL,
    post text NOT NULL,
    unit text NOT NULL,
    kind text NOT NULL CHECK (kind IN ('appointed', 'rotated', 'due')),
    effective_on date NOT NULL,
    years_in_post integer NOT NULL CHECK (years_in_post BETWEEN 0 AND 100),
    updated_at timestamptz NOT NULL,
    last_seq bigint NOT NULL,
    last_event_id uuid NOT NULL,
    PRIMARY KEY (ward, cadre, post, unit, kind, effective_on)
);
CREATE INDEX rotations_cadre ON rotations (ward, cadre, effective_on);

-- ---------------------------------------------------------------------
-- Tallies, kept by statement triggers in the transaction that writes the
-- rows (docs/DESIGN.md §5): inspections per sender, day, kind, body and
-- unit inspected (so that the distinct bodies and units of a period are
-- read from the tally), and rotation facts per sender, day, kind and
-- years in post (so that the threshold can change without a recount).

CREATE TABLE inspection_tallies (
    ward text NOT NULL,
    held_on date NOT NULL,
    kind text NOT NULL,
    body text NOT NULL,
    unit text NOT NULL,
    inspections bigint NOT NULL DEFAULT 0 CHECK (inspections >= 0),
    subjects bigint NOT NULL DEFAULT 0 CHECK (subjects >= 0),
    violations bigint NOT NULL DEFAULT 0 CHECK (violations >= 0),
    PRIMARY KEY (ward, held_on, kind, body, unit)
);

CREATE FUNCTION inspection_tally() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- PL/pgSQL plans a statement when it first runs it: the branch of an
    -- operation without old_rows (or new_rows) never names them.
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE inspection_tallies t
           SET inspections = t.inspections - o.n,
               subjects = t.subjects - o.subjects,
               violations = t.violations - o.violations
          FROM (SELECT ward, held_on, kind, body, unit, count(*) AS n,
                       sum(subjects) AS subjects, sum(violations) AS violations
                  FROM old_rows GROUP BY 1, 2, 3, 4, 5) o
         WHERE t.ward = o.ward AND t.held_on = o.held_on AND t.kind = o.kind
           AND t.body = o.body AND t.unit = o.unit;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO inspection_tallies AS t
               (ward, held_on, kind, body, unit, inspections, subjects,
                violations)
        SELECT ward, held_on, kind, body, unit, count(*), sum(subjects),
               sum(violations)
          FROM new_rows GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5
        ON CONFLICT (ward, held_on, kind, body, unit) DO UPDATE
           SET inspections = t.inspections + EXCLUDED.inspections,
               subjects = t.subjects + EXCLUDED.subjects,
               violations = t.violations + EXCLUDED.violations;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER inspection_tally_insert AFTER INSERT ON inspections
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION inspection_tally();
CREATE TRIGGER inspection_tally_update AFTER UPDATE ON inspections
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION inspection_tally();
CREATE TRIGGER inspection_tally_delete AFTER DELETE ON inspections
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION inspection_tally();

CREATE TABLE rotation_tallies (
    ward text NOT NULL,
    effective_on date NOT NULL,
    kind text NOT NULL,
    years_in_post integer NOT NULL,
    n bigint NOT NULL DEFAULT 0 CHECK (n >= 0),
    PRIMARY KEY (ward, effective_on, kind, years_in_post)
);

CREATE FUNCTION rotation_tally() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE rotation_tallies t SET n = t.n - o.n
          FROM (SELECT ward, effective_on, kind, years_in_post, count(*) AS n
                  FROM old_rows GROUP BY 1, 2, 3, 4) o
         WHERE t.ward = o.ward AND t.effective_on = o.effective_on
           AND t.kind = o.kind AND t.years_in_post = o.years_in_post;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO rotation_tallies AS t
               (ward, effective_on, kind, years_in_post, n)
        SELECT ward, effective_on, kind, years_in_post, count(*)
          FROM new_rows GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
        ON CONFLICT (ward, effective_on, kind, years_in_post) DO UPDATE
           SET n = t.n + EXCLUDED.n;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER rotation_tally_insert AFTER INSERT ON rotations
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION rotation_tally();
CREATE TRIGGER rotation_tally_update AFTER UPDATE ON rotations
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION rotation_tally();
CREATE TRIGGER rotation_tally_delete AFTER DELETE ON rotations
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION rotation_tally();

-- The published indicators and the two new datasets read these tables:
-- the pull's snapshot signature moves with them (003).
CREATE TRIGGER inspections_published_bump
    AFTER INSERT OR UPDATE OR DELETE ON inspections
    FOR EACH STATEMENT EXECUTE FUNCTION pull_published_bump();
CREATE TRIGGER rotations_published_bump
    AFTER INSERT OR UPDATE OR DELETE ON rotations
    FOR EACH STATEMENT EXECUTE FUNCTION pull_published_bump();

-- ---------------------------------------------------------------------
-- The directive's rule: a leader in one post for this many years or more
-- is due for rotation (docs/DESIGN.md §6). A threshold, so a setting.

ALTER TABLE indicator_settings
    ADD COLUMN rotation_years integer NOT NULL DEFAULT 8
        CHECK (rotation_years BETWEEN 1 AND 100);

-- ---------------------------------------------------------------------
-- The stage learns the two kinds: 002's columns, then
--   inspection, body, unit, inspection_kind, subjects, violations
--     (held_on and note are reception's and petition's columns);
--   cadre, post, unit, rotation_kind, years_in_post, effective_on.

CREATE OR REPLACE FUNCTION ingest_stage_create() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    DROP TABLE IF EXISTS ingest_stage;
    CREATE TEMP TABLE ingest_stage (
        batch integer NOT NULL,
        ord integer NOT NULL,
        ward text NOT NULL,
        agent_instance text NOT NULL,
        seq bigint NOT NULL,
        raw_event_id text NOT NULL,
        kind text NOT NULL,
        outcome text,
        reason text,
        decided_in_db boolean NOT NULL DEFAULT false,
        occurred_ms bigint,
        queued_ms bigint,
        payload bytea NOT NULL,
        -- ballot (survey and subject also for remediation)
        survey text,
        form text,
        subject text,
        respondent_group bigint,
        levels smallint[],
        -- petition (status and due_on also for remediation, note also
        -- for inspection)
        petition text,
        petition_kind text,
        channel text,
        status text,
        in_jurisdiction boolean,
        received_on text,
        due_on text,
        note text,
        -- reception (held_on also for inspection)
        session text,
        held_on text,
        host_role text,
        mode text,
        citizens bigint,
        petitions bigint,
        -- inspection (unit also for rotation)
        inspection text,
        body text,
        unit text,
        inspection_kind text,
        subjects bigint,
        violations bigint,
        -- rotation
        cadre text,
        post text,
        rotation_kind text,
        years_in_post bigint,
        effective_on text
    ) ON COMMIT DELETE ROWS;
END
$$;

-- ---------------------------------------------------------------------
-- Stores the rows of the stage with ord in [p_lo, p_hi] that are still to
-- be stored: events, then their typed tables, 002's body with the
-- inspections and rotations added. Raises when the database refuses any of
-- them (the caller's subtransaction undoes the rest).

CREATE OR REPLACE FUNCTION ingest_store(p_lo integer, p_hi integer) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    n_valid integer;
    n_ballot integer;
    n_petition integer;
    n_reception integer;
    n_remediation integer;
    n_inspection integer;
    n_rotation integer;
    stored integer;
BEGIN
    SELECT count(*),
           count(*) FILTER (WHERE kind = 'ballot'),
           count(*) FILTER (WHERE kind = 'petition'),
           count(*) FILTER (WHERE kind = 'reception'),
           count(*) FILTER (WHERE kind = 'remediation'),
           count(*) FILTER (WHERE kind = 'inspection'),
           count(*) FILTER (WHERE kind = 'rotation')
      INTO n_valid, n_ballot, n_petition, n_reception, n_remediation,
           n_inspection, n_rotation
      FROM ingest_stage
     WHERE outcome IS NULL AND ord BETWEEN p_lo AND p_hi;
    IF n_valid = 0 THEN
        RETURN;
    END IF;

    -- In ord order, so that of two rows with one event_id the first is
    -- stored and the second marked below.
    INSERT INTO events (event_id, ward, agent_instance, seq, kind,
                        occurred_at, queued_at, payload, payload_sha256)
    SELECT raw_event_id::uuid, ward, agent_instance, seq, kind,
           timestamptz 'epoch' + occurred_ms * interval '1 millisecond',
           timestamptz 'epoch' + queued_ms * interval '1 millisecond',
           payload, sha256(payload)
      FROM ingest_stage
     WHERE outcome IS NULL AND ord BETWEEN p_lo AND p_hi
     ORDER BY ord
    ON CONFLICT (event_id) DO NOTHING;
    GET DIAGNOSTICS stored = ROW_COUNT;
    IF stored <> n_valid THEN
        -- Some event_ids were stored already (an event sent again under a
        -- new seq) or twice in these rows: mark those rows and store the
        -- rest, without undoing the insert.
        PERFORM ingest_mark_existing(p_lo, p_hi);
    END IF;

    IF n_ballot > 0 THEN
        INSERT INTO ballots (event_id, ward, survey, form, subject,
                             respondent_group, collected_on, levels)
        SELECT raw_event_id::uuid, ward, survey, form, subject,
               respondent_group::smallint,
               ((timestamptz 'epoch' + occurred_ms * interval '1 millisecond')
                   AT TIME ZONE 'UTC')::date,
               levels
          FROM ingest_stage
         WHERE kind = 'ballot' AND outcome IS NULL
           AND ord BETWEEN p_lo AND p_hi;
    END IF;

    -- Current states first (the newest event of the rows per key, by
    -- occurred_at then seq, the first staged on a tie: what applying the
    -- events one by one would leave; the upsert's guard keeps an older
    -- event from overwriting a newer state whatever the order of calls),
    -- then the history, whose trigger then knows which petitions this
    -- statement already gave a new change number.
    IF n_petition > 0 THEN
        WITH newest AS MATERIALIZED (
            SELECT DISTINCT ON (ward, petition) *
              FROM ingest_stage
             WHERE kind = 'petition' AND outcome IS NULL
               AND ord BETWEEN p_lo AND p_hi
             ORDER BY ward, petition, occurred_ms DESC, seq DESC, ord
        ), numbered AS MATERIALIZED (
            SELECT n.*, nextval('pull_change_seq') AS change_seq FROM newest n
        )
        INSERT INTO petitions AS p (ward, petition, kind, channel, status,
                                    in_jurisdiction, received_on, due_on, note,
                                    updated_at, last_seq, last_event_id,
                                    change_seq, created_seq)
        SELECT ward, petition, petition_kind, channel, status, in_jurisdiction,
               received_on::date, due_on::date, note,
               timestamptz 'epoch' + occurred_ms * interval '1 millisecond',
               seq, raw_event_id::uuid, change_seq, change_seq
          FROM numbered ORDER BY ward, petition
        ON CONFLICT (ward, petition) DO UPDATE
           SET kind = EXCLUDED.kind, channel = EXCLUDED.channel,
               status = EXCLUDED.status,
               in_jurisdiction = EXCLUDED.in_jurisdiction,
               received_on = EXCLUDED.received_on, due_on = EXCLUDED.due_on,
               note = EXCLUDED.note, updated_at = EXCLUDED.updated_at,
               last_seq = EXCLUDED.last_seq,
               last_event_id = EXCLUDED.last_event_id,
               change_seq = EXCLUDED.change_seq
         WHERE (p.updated_at, p.last_seq) < (EXCLUDED.updated_at, EXCLUDED.last_seq);

        INSERT INTO petition_history (event_id, ward, petition, kind, channel,
                                      status, in_jurisdiction, received_on,
                                      due_on, note, occurred_at)
        SELECT raw_event_id::uuid, ward, petition, petition_kind, channel,
               status, in_jurisdiction, received_on::date, due_on::date, note,
               timestamptz 'epoch' + occurred_ms * interval '1 millisecond'
          FROM ingest_stage
         WHERE kind = 'petition' AND outcome IS NULL
           AND ord BETWEEN p_lo AND p_hi;
    END IF;

    IF n_reception > 0 THEN
        INSERT INTO reception_sessions AS r (ward, session, held_on, host_role,
                                             mode, citizens, petitions,
                                             updated_at, last_seq, last_event_id)
        SELECT DISTINCT ON (ward, session)
               ward, session, held_on::date, host_role, mode,
               citizens::integer, petitions::integer,
               timestamptz 'epoch' + occurred_ms * interval '1 millisecond',
               seq, raw_event_id::uuid
          FROM ingest_stage
         WHERE kind = 'reception' AND outcome IS NULL
           AND ord BETWEEN p_lo AND p_hi
         ORDER BY ward, session, occurred_ms DESC, seq DESC, ord
        ON CONFLICT (ward, session) DO UPDATE
           SET held_on = EXCLUDED.held_on, host_role = EXCLUDED.host_role,
               mode = EXCLUDED.mode, citizens = EXCLUDED.citizens,
               petitions = EXCLUDED.petitions, updated_at = EXCLUDED.updated_at,
               last_seq = EXCLUDED.last_seq,
               last_event_id = EXCLUDED.last_event_id
         WHERE (r.updated_at, r.last_seq) < (EXCLUDED.updated_at, EXCLUDED.last_seq);
    END IF;

    IF n_remediation > 0 THEN
        INSERT INTO remediation_plans AS m (ward, survey, subject, status, due_on,
                                            updated_at, last_seq, last_event_id)
        SELECT DISTINCT ON (ward, survey, subject)
               ward, survey, subject, status, due_on::date,
               timestamptz 'epoch' + occurred_ms * interval '1 millisecond',
               seq, raw_event_id::uuid
          FROM ingest_stage
         WHERE kind = 'remediation' AND outcome IS NULL
           AND ord BETWEEN p_lo AND p_hi
         ORDER BY ward, survey, subject, occurred_ms DESC, seq DESC, ord
        ON CONFLICT (ward, survey, subject) DO UPDATE
           SET status = EXCLUDED.status, due_on = EXCLUDED.due_on,
               updated_at = EXCLUDED.updated_at, last_seq = EXCLUDED.last_seq,
               last_event_id = EXCLUDED.last_event_id
         WHERE (m.updated_at, m.last_seq) < (EXCLUDED.updated_at, EXCLUDED.last_seq);

        INSERT INTO remediation_history (event_id, ward, survey, subject,
                                         status, due_on, occurred_at, seq)
        SELECT raw_event_id::uuid, ward, survey, subject, status,
               due_on::date,
               timestamptz 'epoch' + occurred_ms * interval '1 millisecond',
               seq
          FROM ingest_stage
         WHERE kind = 'remediation' AND outcome IS NULL
           AND ord BETWEEN p_lo AND p_hi;
    END IF;

    -- Inspections: the newest event per code, as reception sessions.
    IF n_inspection > 0 THEN
        INSERT INTO inspections AS i (ward, inspection, body, unit, held_on,
                                      kind, subjects, violations, note,
                                      updated_at, last_seq, last_event_id)
        SELECT DISTINCT ON (ward, inspection)
               ward, inspection, body, unit, held_on::date, inspection_kind,
               subjects::integer, violations::integer, coalesce(note, ''),
               timestamptz 'epoch' + occurred_ms * interval '1 millisecond',
               seq, raw_event_id::uuid
          FROM ingest_stage
         WHERE kind = 'inspection' AND outcome IS NULL
           AND ord BETWEEN p_lo AND p_hi
         ORDER BY ward, inspection, occurred_ms DESC, seq DESC, ord
        ON CONFLICT (ward, inspection) DO UPDATE
           SET body = EXCLUDED.body, unit = EXCLUDED.unit,
               held_on = EXCLUDED.held_on, kind = EXCLUDED.kind,
               subjects = EXCLUDED.subjects,
               violations = EXCLUDED.violations, note = EXCLUDED.note,
               updated_at = EXCLUDED.updated_at, last_seq = EXCLUDED.last_seq,
               last_event_id = EXCLUDED.last_event_id
         WHERE (i.updated_at, i.last_seq) < (EXCLUDED.updated_at, EXCLUDED.last_seq);
    END IF;

    -- Rotation facts: one row per cadre, post, unit, kind and date; the
    -- newest event of a key replaces its years in post.
    IF n_rotation > 0 THEN
        INSERT INTO rotations AS r (ward, cadre, post, unit, kind,
                                    effective_on, years_in_post, updated_at,
                                    last_seq, last_event_id)
        SELECT DISTINCT ON (ward, cadre, post, unit, rotation_kind,
                            effective_on::date)
               ward, cadre, post, unit, rotation_kind, effective_on::date,
               years_in_post::integer,
               timestamptz 'epoch' + occurred_ms * interval '1 millisecond',
               seq, raw_event_id::uuid
          FROM ingest_stage
         WHERE kind = 'rotation' AND outcome IS NULL
           AND ord BETWEEN p_lo AND p_hi
         ORDER BY ward, cadre, post, unit, rotation_kind, effective_on::date,
                  occurred_ms DESC, seq DESC, ord
        ON CONFLICT (ward, cadre, post, unit, kind, effective_on) DO UPDATE
           SET years_in_post = EXCLUDED.years_in_post,
               updated_at = EXCLUDED.updated_at, last_seq = EXCLUDED.last_seq,
               last_event_id = EXCLUDED.last_event_id
         WHERE (r.updated_at, r.last_seq) < (EXCLUDED.updated_at, EXCLUDED.last_seq)
           AND r.years_in_post IS DISTINCT FROM EXCLUDED.years_in_post;
    END IF;
END
$$;

-- ---------------------------------------------------------------------
-- The new indicators (docs/DESIGN.md §7). Per period, by the date of the
-- inspection or of the rotation fact, counted under the org unit whose
-- agent sent the record (the district office keeps both registers), rolled
-- up like every other per-period figure.

INSERT INTO indicator_definitions VALUES
 ('inspections_held', 28, 'count', false, 'inspections held in the period, every kind'),
 ('inspections_held_party', 29, 'count', false, 'of those, inspections of party organisations and members (kiểm tra Đảng)'),
 ('inspections_held_planned', 30, 'count', false, 'of those, planned public-service inspections (kiểm tra công vụ theo kế hoạch)'),
 ('inspections_held_unannounced', 31, 'count', false, 'of those, unannounced public-service inspections (kiểm tra công vụ đột xuất)'),
 ('inspection_teams', 32, 'count', false, 'distinct bodies or teams that held a public-service inspection (planned or unannounced) in the period'),
 ('units_inspected', 33, 'count', false, 'distinct units inspected in the period, every kind'),
 ('units_inspected_party', 34, 'count', false, 'distinct party organisations inspected (party inspections)'),
 ('units_inspected_planned', 35, 'count', false, 'distinct units of planned public-service inspections'),
 ('units_inspected_unannounced', 36, 'count', false, 'distinct units of unannounced public-service inspections'),
 ('party_members_inspected', 37, 'count', false, 'party members inspected: the subjects of party inspections'),
 ('inspection_violations', 38, 'count', false, 'violations found by the inspections of the period'),
 ('cadres_appointed', 39, 'count', false, 'cadres appointed or moved (điều động, bổ nhiệm) in the period'),
 ('cadres_rotated', 40, 'count', false, 'cadres rotated out of a post (chuyển đổi vị trí công tác) in the period'),
 ('cadres_due_rotation', 41, 'count', false, 'cadres in the same post for the rotation years or more and not rotated, on the as-of day'),
 ('rotation_compliance', 42, 'ratio', false, 'cadres rotated in the period after the rotation years or more / (those + cadres still due on the as-of day)');

-- ---------------------------------------------------------------------
-- Every indicator row: 004's indicator_values() whole, with the
-- inspection and rotation figures added to the per-period values (and the
-- rotation rule written in their rule text). Every other figure and rule
-- text is as 004 computes it. As of the day A (004's rule), for the new
-- figures:
--   inspections_held*, inspection_teams, units_inspected*,
--     party_members_inspected, inspection_violations: inspections held
--     in the period (held_on), from inspection_tallies;
--   cadres_appointed, cadres_rotated: facts dated in the period, from
--     rotation_tallies (a rotation on the period's last day counts);
--   cadres_due_rotation: each cadre's latest fact dated on or before A is
--     not a rotation and the post was taken rotation_years or more before
--     A (rot_due below);
--   rotation_compliance: rotations in the period after rotation_years or
--     more / (those + cadres_due_rotation).

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
              coalesce(rec_span.weeks, 0)),
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

-- ---------------------------------------------------------------------
-- What the city may read of the registers (docs/DESIGN.md §7, §8): the
-- inspections as they are, the rotation facts without the cadre's code,
-- each named by its row id (record). None of this is ballot-derived.

CREATE VIEW published.inspections AS
    SELECT i.ward, i.inspection, i.body, i.unit, i.held_on::text AS held_on,
           i.kind, i.subjects, i.violations, i.note
      FROM public.inspections i;

CREATE VIEW published.rotations AS
    SELECT r.ward, r.id::text AS record, r.post, r.unit, r.kind,
           r.effective_on::text AS effective_on, r.years_in_post
      FROM public.rotations r;

GRANT SELECT ON published.inspections, published.rotations
    TO wardsync_city, wardsync_hub;
GRANT SELECT, INSERT, UPDATE ON inspections, rotations, inspection_tallies,
    rotation_tallies TO wardsync_hub;
GRANT USAGE, SELECT ON SEQUENCE rotations_id_seq TO wardsync_hub;
