-- 014: the writer's speed (issue #12, docs/DESIGN.md §5 "The one writer").
--
-- Measured on 20,000 staged events (a third each ballots, petition
-- changes and reception sessions, the bench's mix), ingest_store() alone,
-- three runs each, on this project's 2-core machine: 1.50-1.62 s as 010
-- left it, 0.80-0.94 s with both changes below.
--
-- 1. The writer's sorts (events in ord order with their payload, the
--    newest state per key) spilled to disk at the default work_mem of
--    4 MB ("external merge"): the writer's own function gets 64 MB, for
--    the one writer's connection only.
--
-- 2. The per-row foreign keys from the typed rows to events, and from
--    events to agents, cost a quarter of the writer's time: PostgreSQL
--    checks a foreign key one row at a time (a trigger call, a lookup and
--    a row lock per row), 20,000 to 40,000 checks a group. Statement-level
--    checks over the transition tables cost nearly as much (one index
--    probe per row). They go, and what they guaranteed is kept by
--    construction and by guards that cost nothing on the writer's path:
--
--    - every row of ballots, petition_history, reception_history and
--      remediation_history is written by ingest_store() from a staged row
--      whose event it stored in the same statement sequence (rows marked
--      duplicate or conflict are skipped by every insert); the hub role
--      can only INSERT them;
--    - an agent's row exists before any of its events: ingest_lock_agents()
--      creates and locks it at the start of the group's transaction;
--    - events are never deleted and never change identity: the guards
--      below refuse DELETE, TRUNCATE and an UPDATE of event_id, ward,
--      agent_instance or seq on events, and the removal or renaming of an
--      agent that has events (what the foreign keys refused before).
--
--    events.withdrawn_by (set by withdraw_events() only) and withdrawals
--    keep their foreign keys: they are rare.
--
-- 3. The petition history trigger (petition_history_track(), 004) joined
--    the group's new history rows with the whole of petition_history and
--    petitions by hash, a scan of both tables per group: its cost grew
--    with the district's history (11.2 s of the bench's 85 s of writer
--    time at 500,000 history rows). The transition table's row count is a
--    guess to the planner; with sequential scans off for that function
--    it reads the rows of the group's petitions through their indexes
--    (petition_history_petition, petitions_pkey), whatever the size of
--    the tables.

ALTER FUNCTION ingest_apply() SET work_mem = '64MB';
ALTER FUNCTION petition_history_track() SET enable_seqscan = off;

ALTER TABLE events DROP CONSTRAINT events_ward_agent_instance_fkey;
ALTER TABLE ballots DROP CONSTRAINT ballots_event_id_fkey;
ALTER TABLE petition_history DROP CONSTRAINT petition_history_event_id_fkey;
ALTER TABLE reception_history DROP CONSTRAINT reception_history_event_id_fkey;
ALTER TABLE remediation_history
    DROP CONSTRAINT remediation_history_event_id_fkey;

CREATE FUNCTION events_keep() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% on events refused: events are kept for ever and never '
                    'change identity (a wrong event is withdrawn, '
                    'docs/DESIGN.md §4)', TG_OP
        USING ERRCODE = 'restrict_violation';
END
$$;

CREATE TRIGGER events_keep_delete BEFORE DELETE OR TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION events_keep();
CREATE TRIGGER events_keep_identity
    BEFORE UPDATE OF event_id, ward, agent_instance, seq ON events
    FOR EACH ROW WHEN (OLD.event_id IS DISTINCT FROM NEW.event_id
                       OR OLD.ward IS DISTINCT FROM NEW.ward
                       OR OLD.agent_instance IS DISTINCT FROM NEW.agent_instance
                       OR OLD.seq IS DISTINCT FROM NEW.seq)
    EXECUTE FUNCTION events_keep();

-- An agent with events stays, under its name (its events name it). Row
-- triggers: the writer's updates of agents (marks, counts) name neither
-- column, so these never run for them.
CREATE FUNCTION agents_keep() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    w text;
    i text;
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        SELECT e.ward, e.agent_instance INTO w, i FROM events e LIMIT 1;
    ELSE
        SELECT e.ward, e.agent_instance INTO w, i
          FROM events e
         WHERE e.ward = OLD.ward AND e.agent_instance = OLD.agent_instance
         LIMIT 1;
    END IF;
    IF FOUND THEN
        RAISE EXCEPTION '% on agents refused: agent %/% has events, and an '
                        'agent with events is kept under its name', TG_OP, w, i
            USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN CASE TG_OP WHEN 'DELETE' THEN OLD ELSE NEW END;
END
$$;

CREATE TRIGGER agents_keep_delete BEFORE DELETE ON agents
    FOR EACH ROW EXECUTE FUNCTION agents_keep();
CREATE TRIGGER agents_keep_identity
    BEFORE UPDATE OF ward, agent_instance ON agents
    FOR EACH ROW WHEN (OLD.ward IS DISTINCT FROM NEW.ward
                       OR OLD.agent_instance IS DISTINCT FROM NEW.agent_instance)
    EXECUTE FUNCTION agents_keep();
CREATE TRIGGER agents_keep_truncate BEFORE TRUNCATE ON agents
    FOR EACH STATEMENT EXECUTE FUNCTION agents_keep();
