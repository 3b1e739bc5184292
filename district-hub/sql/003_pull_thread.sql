-- 003_pull_thread: change numbers for a pull endpoint on its own thread,
-- and a signature of the published data (docs/DESIGN.md §8).
--
-- Self-contained: it replaces pull_touch(), pull_tombstone() and
-- ingest_lock_agents() whole (CREATE OR REPLACE), adds
-- pull_change_lock(), the table pull_published_version and its bump
-- triggers.

-- ---------------------------------------------------------------------
-- Change numbers commit in their order.
--
-- Two sessions now draw from pull_change_seq: the ingest transaction (the
-- pull_touch and pull_tombstone triggers, ingest_apply) and the pull
-- thread's snapshot refresh. A sequence hands out numbers in call order,
-- not commit order: without more, a page could see change N+1 committed
-- while N is still in flight, hand out cursor N+1, and the client would
-- never see N.
--
-- So every transaction that draws a change number first takes one
-- transaction-level advisory lock, pull_change_lock(), and holds it until
-- it ends. Whoever holds it is the only transaction drawing numbers; the
-- next one can draw its first number only after the holder has committed
-- (PostgreSQL makes a transaction visible before it releases its locks) or
-- rolled back (its numbers then never appear). So the transactions that
-- draw numbers commit one after the other, each with numbers above every
-- number committed before it: a snapshot that sees change N sees every
-- committed change below N, and a cursor never moves past a number that
-- could still commit. (A lock taken in a savepoint that rolls back is
-- released with it, together with the numbers drawn under it, which then
-- never appear; the next draw takes it again.)
--
-- Who takes it: ingest_lock_agents(), the first statement of every ingest
-- group transaction, before it creates or locks any agent row (the
-- fast path's ingest_apply() then draws petitions' numbers itself);
-- pull_touch() and pull_tombstone(), for every other writer of petitions
-- and agents; the pull thread's refresh transaction (db/read.c). Taking it
-- again in the same transaction is a local hash lookup.

CREATE OR REPLACE FUNCTION pull_change_lock() RETURNS void
LANGUAGE sql VOLATILE AS $$
    -- "wardsync-pull-change" as a key of its own, not the migration lock.
    SELECT pg_advisory_xact_lock(8599089707513213818)
$$;

CREATE OR REPLACE FUNCTION pull_touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pull_change_lock();
    NEW.change_seq := nextval('pull_change_seq');
    IF TG_OP = 'INSERT' THEN
        NEW.created_seq := NEW.change_seq;
    ELSE
        NEW.created_seq := OLD.created_seq;
    END IF;
    RETURN NEW;
END
$$;

CREATE OR REPLACE FUNCTION pull_tombstone() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- The tombstone's change_seq is its column default, nextval().
    PERFORM pull_change_lock();
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

-- Locks the agent rows of a group in key order, so that two hubs
-- committing overlapping groups cannot deadlock, and returns their marks.
-- An outbox the hub has not seen gets its row only when p_create says a
-- batch of it starts at seq 1: a batch that is a gap leaves nothing behind.
-- The change-number lock first: the group draws numbers (see above), and
-- taking it before the row locks keeps one lock order for every writer.
CREATE OR REPLACE FUNCTION ingest_lock_agents(p_wards text[],
                                              p_instances text[],
                                              p_create boolean[])
RETURNS TABLE (ward text, agent_instance text, committed_through bigint)
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pull_change_lock();
    INSERT INTO agents AS a (ward, agent_instance)
    SELECT DISTINCT w, i FROM unnest(p_wards, p_instances, p_create)
                              AS u (w, i, c)
     WHERE c ORDER BY w, i
    ON CONFLICT DO NOTHING;
    RETURN QUERY
    SELECT a.ward, a.agent_instance, a.committed_through
      FROM agents a
     WHERE (a.ward, a.agent_instance) IN
           (SELECT w, i FROM unnest(p_wards, p_instances) AS u (w, i))
     ORDER BY a.ward, a.agent_instance
       FOR UPDATE OF a;
END
$$;

-- ---------------------------------------------------------------------
-- The signature of the published data.
--
-- The pull thread recomputes a derived dataset (published.indicators,
-- published.ballot_aggregates) only when what those views read has
-- changed. Every statement that writes a table they read bumps this one
-- counter, in its own transaction: a reader sees the new version exactly
-- when it sees the new data. agents is not among the tables: an agent
-- reporting in moves only sync_lag, which the pull refreshes with the
-- clock (DERIVED_MAX_AGE_MS in pull.c), not with every batch.

CREATE TABLE pull_published_version (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    version bigint NOT NULL DEFAULT 0
);
INSERT INTO pull_published_version DEFAULT VALUES;

CREATE OR REPLACE FUNCTION pull_published_bump() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE pull_published_version SET version = version + 1;
    RETURN NULL;
END
$$;

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY[
        'ballots', 'petitions', 'petition_history', 'reception_sessions',
        'remediation_plans', 'rejected_events', 'indicator_settings',
        'petition_deadline_rules', 'survey_rounds', 'survey_round_forms',
        'survey_round_wards', 'survey_round_subjects', 'org_units',
        'catalogue_groups', 'catalogue_forms', 'catalogue_items']
    LOOP
        EXECUTE format('CREATE TRIGGER %I AFTER INSERT OR UPDATE OR DELETE'
                       ' ON %I FOR EACH STATEMENT'
                       ' EXECUTE FUNCTION pull_published_bump()',
                       t || '_published_bump', t);
    END LOOP;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'wardsync_hub') THEN
        GRANT SELECT, UPDATE ON pull_published_version TO wardsync_hub;
    END IF;
END
$$;
