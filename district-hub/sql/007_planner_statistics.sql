-- 007_planner_statistics.sql - planner statistics kept current for what
-- the hub bulk-loads (issue #13, docs/DESIGN.md §8).
--
-- A freshly loaded database (a district's backlog drained in an hour) has
-- tables autovacuum has not analysed yet: the planner then takes the
-- tallies for empty and the published views' first computation took
-- 26-30 s instead of about 2. analyze_stale() analyses each table the
-- published views and the pulls read whose rows changed by more than
-- autovacuum's own analyse threshold (50 rows + 10 % of the table) since
-- it was last analysed, by anyone. The pull thread calls it before it
-- recomputes a published snapshot, on its own connection, so ingest never
-- waits for it (ANALYZE takes a lock that does not conflict with INSERT,
-- UPDATE or DELETE).
--
-- SECURITY DEFINER because only a table's owner may analyse it in
-- PostgreSQL 15; the list of tables is fixed here, so the caller chooses
-- nothing. Returns the tables analysed.

CREATE FUNCTION analyze_stale() RETURNS text[]
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = public, pg_temp AS $$
DECLARE
    t text;
    done text[] := '{}';
BEGIN
    FOR t IN
        SELECT s.relname::text
          FROM pg_stat_user_tables s
          JOIN pg_class c ON c.oid = s.relid
         WHERE s.schemaname = 'public'
           AND s.relname = ANY (ARRAY[
               'ballot_counts', 'ballot_level_counts', 'petition_tallies',
               'reception_tallies', 'rejected_tallies', 'petitions',
               'petition_history', 'petition_dates', 'remediation_plans',
               'remediation_history', 'reception_sessions', 'agents',
               'survey_rounds', 'survey_round_wards', 'survey_round_subjects',
               'pull_snapshot', 'pull_tombstones'])
           AND s.n_mod_since_analyze > 50 + 0.1 * greatest(c.reltuples, 0)
         ORDER BY s.relname
    LOOP
        EXECUTE format('ANALYZE %I', t);
        done := done || t;
    END LOOP;
    RETURN done;
END
$$;

REVOKE EXECUTE ON FUNCTION analyze_stale() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION analyze_stale() TO wardsync_hub;
