-- 010_pull_changes: change tracking for the pull API (DESIGN §4, §8).
--
-- Every row a city can pull carries change_seq, taken from one sequence on
-- every insert and update, and created_seq, the change that created it, so
-- that a pull "since change N" returns what changed after N and says
-- whether each row is new (created_seq > N) or a correction. Deletions
-- leave a tombstone in pull_tombstones. Derived datasets (indicators,
-- ballot aggregates) are snapshotted in pull_snapshot at pull time: a row
-- whose value moved gets a new change_seq, a row that vanished is marked
-- deleted.

CREATE SEQUENCE pull_change_seq;

CREATE FUNCTION pull_touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.change_seq := nextval('pull_change_seq');
    IF TG_OP = 'INSERT' THEN
        NEW.created_seq := NEW.change_seq;
    ELSE
        NEW.created_seq := OLD.created_seq;
    END IF;
    RETURN NEW;
END
$$;

CREATE TABLE pull_tombstones (
    dataset text NOT NULL,
    ward text NOT NULL,
    row_key text NOT NULL,
    change_seq bigint NOT NULL DEFAULT nextval('pull_change_seq'),
    deleted_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX pull_tombstones_change ON pull_tombstones (dataset, change_seq);

CREATE FUNCTION pull_tombstone() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- One statement per table: PL/pgSQL resolves OLD's fields when it
    -- plans a statement, and each table has its own key.
    IF TG_ARGV[0] = 'petitions' THEN
        INSERT INTO pull_tombstones (dataset, ward, row_key)
        VALUES ('petitions', OLD.ward, OLD.ward || '/' || OLD.petition);
    ELSE
        INSERT INTO pull_tombstones (dataset, ward, row_key)
        VALUES (TG_ARGV[0], OLD.ward, OLD.ward || '/' || OLD.agent_instance);
    END IF;
    RETURN OLD;
END
$$;

ALTER TABLE petitions ADD COLUMN change_seq bigint, ADD COLUMN created_seq bigint;
CREATE TRIGGER petitions_pull_touch BEFORE INSERT OR UPDATE ON petitions
    FOR EACH ROW EXECUTE FUNCTION pull_touch();
CREATE TRIGGER petitions_pull_tombstone AFTER DELETE ON petitions
    FOR EACH ROW EXECUTE FUNCTION pull_tombstone('petitions');
UPDATE petitions SET note = note;
CREATE INDEX petitions_change ON petitions (change_seq);

-- A history row that arrives out of order does not change the current
-- state, but it changes the record the city sees: touch the petition.
CREATE FUNCTION pull_touch_petition() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE petitions SET change_seq = NULL
     WHERE ward = NEW.ward AND petition = NEW.petition;
    RETURN NULL;
END
$$;
CREATE TRIGGER petition_history_pull_touch AFTER INSERT ON petition_history
    FOR EACH ROW EXECUTE FUNCTION pull_touch_petition();

ALTER TABLE agents ADD COLUMN change_seq bigint, ADD COLUMN created_seq bigint;
CREATE TRIGGER agents_pull_touch BEFORE INSERT OR UPDATE ON agents
    FOR EACH ROW EXECUTE FUNCTION pull_touch();
CREATE TRIGGER agents_pull_tombstone AFTER DELETE ON agents
    FOR EACH ROW EXECUTE FUNCTION pull_tombstone('sync_status');
UPDATE agents SET backlog = backlog;
CREATE INDEX agents_change ON agents (change_seq);

CREATE TABLE pull_snapshot (
    dataset text NOT NULL,
    row_key text NOT NULL,
    ward text NOT NULL DEFAULT '',
    row_data jsonb NOT NULL,
    change_seq bigint NOT NULL,
    created_seq bigint NOT NULL,
    deleted boolean NOT NULL DEFAULT false,
    PRIMARY KEY (dataset, row_key)
);
CREATE INDEX pull_snapshot_change ON pull_snapshot (dataset, change_seq);

-- The hub role (002_security, when present) writes tombstones and
-- snapshots and draws change numbers.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'wardsync_hub') THEN
        GRANT USAGE, SELECT ON SEQUENCE pull_change_seq TO wardsync_hub;
        GRANT SELECT, INSERT ON pull_tombstones TO wardsync_hub;
        GRANT SELECT, INSERT, UPDATE ON pull_snapshot TO wardsync_hub;
    END IF;
END
$$;
