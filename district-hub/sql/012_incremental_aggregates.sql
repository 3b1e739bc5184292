-- 012_incremental_aggregates: the snapshot of ballot_aggregates refreshed
-- part by part, in SQL (docs/DESIGN.md §7 "The publication rule", §8).
--
-- Before, the first page of a pull read the whole published view into one
-- JSON array, sent it through the hub and back, and compared every row
-- with pull_snapshot: at 19 million ratings longer than city-pull's 30 s.
-- Now the writers note which parts of the published aggregates their rows
-- change (ballot_aggregates_dirty), and ballot_aggregates_refresh()
-- recomputes only those parts and merges them into pull_snapshot.
--
-- Self-contained: it replaces ballot_suppression_pattern() and
-- published_ballot_rows() whole (CREATE OR REPLACE) as compositions of the
-- two halves of the rule below, and adds the dirty table, its triggers,
-- the table of the ward decisions last merged and the refresh function.

-- ---------------------------------------------------------------------
-- The rule in two halves.
--
-- 005 computes the pattern of each round's tree in one pass. The tree has
-- two parts that depend on each other in one direction only:
--   the top    the units ('district') and the round's wards ('ward'):
--              rule 3 under a unit chooses among its wards and child
--              units, so one ward's ballots can suppress a sibling;
--   a ward's subtree  its subjects and their respondent groups: rules 1
--              and 3 below the ward cell look only at the ward's own
--              subjects and groups, and rule 2 brings in one bit from
--              above, whether the ward cell is hidden.
-- So ballot_suppression_top() decides the top of some rounds, and
-- ballot_suppression_below() the subtrees of some wards given the ward
-- cells' decisions; the whole pattern is the one, then the other, exactly
-- the cells and decisions of 005 (the same ids, so the same ties).
--
-- The unit of recomputation is therefore one round x one ward (the ward's
-- rows of ballot_aggregates), with the round's top recomputed beside it:
-- the top is a few cells per ward, and it says which other wards of the
-- round a change moved (their ward cell's decision changed), which are
-- then recomputed too. A round is the largest closed unit (no cell of one
-- round depends on another round), a ward subtree the smallest one once
-- its ward cell's decision is known.

-- Whether the rule suppresses complementary cells (rule 3): true. Every
-- production path to the pattern reads it here (ballot_suppression(),
-- published_ballot_rows(), the refresh below), so the auditor's own tests
-- (tests/audit/) weaken the rule of their scratch database in one place,
-- by replacing this function with one returning false.
CREATE FUNCTION ballot_suppression_complementary() RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT true
$$;

-- The top of the rounds p_rounds (NULL: every round): rows of level
-- 'district' and 'ward' as ballot_suppression_pattern() returns them.
CREATE FUNCTION ballot_suppression_top(k integer, complementary boolean,
                                       p_rounds text[])
RETURNS TABLE (level text, survey text, district text, ward text,
               subject text, respondent_group smallint, ballots bigint,
               suppressed boolean)
LANGUAGE sql STABLE AS $$
    WITH RECURSIVE anc (unit, ancestor, depth) AS (
        SELECT code, code, 0 FROM org_units
        UNION ALL
        SELECT a.unit, u.parent, a.depth + 1
          FROM anc a JOIN org_units u ON u.code = a.ancestor
         WHERE u.parent IS NOT NULL
    ), parents AS (
        SELECT DISTINCT parent AS code FROM org_units WHERE parent IS NOT NULL
    ), rep AS (
        -- A ward's ballots: those of its subjects in the round, groups 1..4
        -- (005's cells).
        SELECT w.round AS survey, w.ward,
               coalesce(sum(c.ballots), 0)::bigint AS n
          FROM survey_round_wards w
          LEFT JOIN survey_round_subjects s
            ON s.round = w.round AND s.ward = w.ward
          LEFT JOIN ballot_counts c
            ON c.survey = s.round AND c.ward = s.ward
           AND c.subject = s.subject AND c.respondent_group BETWEEN 1 AND 4
         WHERE p_rounds IS NULL OR w.round = ANY (p_rounds)
         GROUP BY w.round, w.ward
    ), roll AS (
        SELECT r.survey, a.ancestor AS unit, sum(r.n)::bigint AS n
          FROM rep r JOIN anc a ON a.unit = r.ward
         WHERE a.depth > 0 OR r.ward IN (SELECT code FROM parents)
         GROUP BY r.survey, a.ancestor
    ), nodes (survey, id, parent, n) AS (
        SELECT r.survey, 'U:' || r.unit,
               CASE WHEN u.parent IS NOT NULL THEN 'U:' || u.parent END, r.n
          FROM roll r JOIN org_units u ON u.code = r.unit
        UNION ALL
        SELECT r.survey, 'W:' || r.ward,
               CASE WHEN r.ward IN (SELECT code FROM parents)
                    THEN 'U:' || r.ward
                    WHEN u.parent IS NOT NULL THEN 'U:' || u.parent END,
               r.n
          FROM rep r JOIN org_units u ON u.code = r.ward
    ), ranked AS (
        SELECT n.*,
               row_number() OVER w AS rn,
               sum(n.n) OVER w AS cum,
               count(*) FILTER (WHERE n.n < k)
                   OVER (PARTITION BY n.survey, n.parent) AS m
          FROM nodes n
         WHERE n.n > 0 AND n.parent IS NOT NULL
        WINDOW w AS (PARTITION BY n.survey, n.parent ORDER BY n.n, n.id)
    ), need AS (
        SELECT survey, parent,
               CASE WHEN max(m) = 0 THEN 0
                    WHEN NOT complementary THEN max(m)
                    ELSE coalesce(min(rn) FILTER (WHERE rn >= greatest(m, 2)
                                                    AND cum >= k),
                                  count(*)) END AS need
          FROM ranked GROUP BY survey, parent
    ), chosen AS (
        SELECT n.survey, n.id, n.parent, n.n,
               (n.n > 0 AND n.n < k) OR coalesce(r.rn <= d.need, false)
                   AS chosen
          FROM nodes n
          LEFT JOIN ranked r ON r.survey = n.survey AND r.id = n.id
          LEFT JOIN need d ON d.survey = n.survey AND d.parent = n.parent
    ), hidden (survey, id, n, hidden) AS (
        SELECT c.survey, c.id, c.n, c.chosen FROM chosen c
         WHERE c.parent IS NULL
        UNION ALL
        SELECT c.survey, c.id, c.n, h.hidden OR c.chosen
          FROM chosen c JOIN hidden h
            ON h.survey = c.survey AND h.id = c.parent
    )
    SELECT CASE left(h.id, 1) WHEN 'U' THEN 'district' ELSE 'ward' END,
           h.survey,
           CASE WHEN left(h.id, 1) = 'U' THEN substr(h.id, 3)
                WHEN substr(h.id, 3) IN (SELECT code FROM parents)
                    THEN substr(h.id, 3)
                ELSE u.parent END,
           substr(h.id, 3), NULL::text, NULL::smallint, h.n, h.hidden
      FROM hidden h
      LEFT JOIN org_units u ON u.code = substr(h.id, 3)
$$;

-- The subtrees of the wards p_wards of rounds p_rounds, whose ward cells
-- the top decided p_hidden (the three arrays side by side): rows of level
-- 'subject' and 'group' as ballot_suppression_pattern() returns them.
CREATE FUNCTION ballot_suppression_below(k integer, complementary boolean,
                                         p_rounds text[], p_wards text[],
                                         p_hidden boolean[])
RETURNS TABLE (level text, survey text, district text, ward text,
               subject text, respondent_group smallint, ballots bigint,
               suppressed boolean)
LANGUAGE sql STABLE AS $$
    WITH parts AS (
        SELECT DISTINCT ON (p.survey, p.ward) p.survey, p.ward, p.hidden,
               CASE WHEN EXISTS (SELECT 1 FROM org_units o
                                  WHERE o.parent = p.ward)
                    THEN p.ward ELSE u.parent END AS district
          FROM unnest(p_rounds, p_wards, p_hidden) AS p (survey, ward, hidden)
          LEFT JOIN org_units u ON u.code = p.ward
         ORDER BY p.survey, p.ward
    ), grp AS (
        SELECT s.round AS survey, s.ward, s.subject, g.g::smallint AS rg,
               coalesce(c.ballots, 0)::bigint AS n
          FROM parts p
          JOIN survey_round_subjects s
            ON s.round = p.survey AND s.ward = p.ward
         CROSS JOIN generate_series(1, 4) AS g (g)
          LEFT JOIN ballot_counts c
            ON c.survey = s.round AND c.ward = s.ward
           AND c.subject = s.subject AND c.respondent_group = g.g
    ), subj AS (
        SELECT survey, ward, subject, sum(n)::bigint AS n
          FROM grp GROUP BY survey, ward, subject
    ), nodes (survey, ward, subject, rg, id, parent, n) AS (
        SELECT survey, ward, subject, NULL::smallint,
               'S:' || ward || '/' || subject, 'W:' || ward, n
          FROM subj
        UNION ALL
        SELECT survey, ward, subject, rg,
               'G:' || ward || '/' || subject || '/' || rg,
               'S:' || ward || '/' || subject, n
          FROM grp
    ), ranked AS (
        SELECT n.*,
               row_number() OVER w AS rn,
               sum(n.n) OVER w AS cum,
               count(*) FILTER (WHERE n.n < k)
                   OVER (PARTITION BY n.survey, n.parent) AS m
          FROM nodes n
         WHERE n.n > 0
        WINDOW w AS (PARTITION BY n.survey, n.parent ORDER BY n.n, n.id)
    ), need AS (
        SELECT survey, parent,
               CASE WHEN max(m) = 0 THEN 0
                    WHEN NOT complementary THEN max(m)
                    ELSE coalesce(min(rn) FILTER (WHERE rn >= greatest(m, 2)
                                                    AND cum >= k),
                                  count(*)) END AS need
          FROM ranked GROUP BY survey, parent
    ), chosen AS (
        SELECT n.survey, n.ward, n.subject, n.rg, n.n,
               (n.n > 0 AND n.n < k) OR coalesce(r.rn <= d.need, false)
                   AS chosen
          FROM nodes n
          LEFT JOIN ranked r ON r.survey = n.survey AND r.id = n.id
          LEFT JOIN need d ON d.survey = n.survey AND d.parent = n.parent
    ), subject_hidden AS (
        -- Rule 2 from the ward cell down: hidden when the ward cell is or
        -- the subject itself is chosen.
        SELECT c.survey, c.ward, c.subject, c.n, p.district,
               p.hidden OR c.chosen AS hidden
          FROM chosen c
          JOIN parts p ON p.survey = c.survey AND p.ward = c.ward
         WHERE c.rg IS NULL
    )
    SELECT 'subject', s.survey, s.district, s.ward, s.subject,
           NULL::smallint, s.n, s.hidden
      FROM subject_hidden s
    UNION ALL
    SELECT 'group', s.survey, s.district, s.ward, s.subject, c.rg, c.n,
           s.hidden OR c.chosen
      FROM chosen c
      JOIN subject_hidden s
        ON s.survey = c.survey AND s.ward = c.ward AND s.subject = c.subject
     WHERE c.rg IS NOT NULL
$$;

-- 005's pattern, as the top of every round and then the subtrees of all
-- of their wards.
CREATE OR REPLACE FUNCTION ballot_suppression_pattern(k integer,
                                                      complementary boolean)
RETURNS TABLE (level text, survey text, district text, ward text,
               subject text, respondent_group smallint, ballots bigint,
               suppressed boolean)
LANGUAGE sql STABLE AS $$
    WITH top AS (
        SELECT * FROM ballot_suppression_top(k, complementary, NULL)
    )
    SELECT * FROM top
    UNION ALL
    SELECT b.*
      FROM (SELECT array_agg(t.survey) AS s, array_agg(t.ward) AS w,
                   array_agg(t.suppressed) AS h
              FROM top t WHERE t.level = 'ward') a
     CROSS JOIN LATERAL ballot_suppression_below(k, complementary,
                                                 a.s, a.w, a.h) b
$$;

-- What indicator_values() and the published views read: the rule with
-- complementary suppression.
CREATE OR REPLACE FUNCTION ballot_suppression(k integer)
RETURNS TABLE (level text, survey text, district text, ward text,
               subject text, respondent_group smallint, ballots bigint,
               suppressed boolean)
LANGUAGE sql STABLE AS $$
    SELECT * FROM ballot_suppression_pattern(
        k, ballot_suppression_complementary())
$$;

REVOKE EXECUTE ON FUNCTION ballot_suppression_top(integer, boolean, text[]),
    ballot_suppression_below(integer, boolean, text[], text[], boolean[])
    FROM PUBLIC;

-- ---------------------------------------------------------------------
-- The published rows of some wards.

-- The rows of published.ballot_aggregates of the wards p_wards of rounds
-- p_rounds, whose ward cells the top decided p_hidden, with k the
-- threshold: published_ballot_rows() of 005, for those wards only.
CREATE FUNCTION ballot_rows_of(k integer, p_rounds text[], p_wards text[],
                               p_hidden boolean[])
RETURNS TABLE (survey text, ward text, subject text, form text, item integer,
               respondent_group text, suppressed boolean, ballots bigint,
               level1 bigint, level2 bigint, level3 bigint, share1 numeric,
               share2 numeric, share3 numeric, rule text)
LANGUAGE sql STABLE AS $$
    -- Each cell's level counts as arrays indexed by item, looked up by the
    -- tallies' key (the cell's group, or the sum of the subject's groups):
    -- per cell, never a join of every item of every cell with every tally,
    -- so no plan depends on statistics of tables just loaded.
    WITH cells AS (
        SELECT s.survey, s.ward, s.subject, f.form,
               CASE WHEN s.level = 'subject' THEN 'all'
                    ELSE s.respondent_group::text END AS respondent_group,
               s.ballots, s.suppressed, a.n1, a.n2, a.n3
          FROM ballot_suppression_below(k, ballot_suppression_complementary(),
                                        p_rounds, p_wards, p_hidden) s
          JOIN survey_round_subjects rs
            ON rs.round = s.survey AND rs.ward = s.ward
           AND rs.subject = s.subject
          JOIN survey_round_forms f
            ON f.round = rs.round AND f.category = rs.category
          LEFT JOIN LATERAL (
              SELECT array_agg(x.n1 ORDER BY x.item) AS n1,
                     array_agg(x.n2 ORDER BY x.item) AS n2,
                     array_agg(x.n3 ORDER BY x.item) AS n3
                FROM (SELECT u.item, sum(u.n1) AS n1, sum(u.n2) AS n2,
                             sum(u.n3) AS n3
                        FROM ballot_level_counts c
                       CROSS JOIN LATERAL unnest(c.n1, c.n2, c.n3)
                             WITH ORDINALITY AS u (n1, n2, n3, item)
                       WHERE c.survey = s.survey AND c.ward = s.ward
                         AND c.subject = s.subject
                         AND (s.level = 'subject'
                              OR c.respondent_group = s.respondent_group)
                       GROUP BY u.item) x) a ON true
    ), items AS (
        SELECT c.survey, c.ward, c.subject, c.form, i.number AS item,
               c.respondent_group, c.ballots, c.suppressed,
               coalesce(c.n1[i.number], 0) AS n1,
               coalesce(c.n2[i.number], 0) AS n2,
               coalesce(c.n3[i.number], 0) AS n3
          FROM cells c
          JOIN catalogue_items i ON i.form = c.form
    )
    SELECT c.survey, c.ward, c.subject, c.form, c.item, c.respondent_group,
           c.suppressed,
           CASE WHEN c.suppressed THEN NULL ELSE c.ballots END,
           CASE WHEN c.suppressed THEN NULL ELSE c.n1::bigint END,
           CASE WHEN c.suppressed THEN NULL ELSE c.n2::bigint END,
           CASE WHEN c.suppressed THEN NULL ELSE c.n3::bigint END,
           CASE WHEN c.suppressed OR c.ballots = 0 THEN NULL
                ELSE round(c.n1::numeric / c.ballots, 3) END,
           CASE WHEN c.suppressed OR c.ballots = 0 THEN NULL
                ELSE round(c.n2::numeric / c.ballots, 3) END,
           CASE WHEN c.suppressed OR c.ballots = 0 THEN NULL
                ELSE round(c.n3::numeric / c.ballots, 3) END,
           format('item_level_share: ballots at each level / ballots of the '
                  'subject and group; publication: cells of fewer than %s '
                  'ballots suppressed, and with them the smallest other cells '
                  'until the suppressed cells under every published total '
                  'are two or more and hold %s ballots or more', k, k)
      FROM items c
$$;

REVOKE EXECUTE ON FUNCTION ballot_rows_of(integer, text[], text[], boolean[])
    FROM PUBLIC;

-- What published.ballot_aggregates shows: 005's rows, for every ward of
-- every round.
CREATE OR REPLACE FUNCTION published_ballot_rows()
RETURNS TABLE (survey text, ward text, subject text, form text, item integer,
               respondent_group text, suppressed boolean, ballots bigint,
               level1 bigint, level2 bigint, level3 bigint, share1 numeric,
               share2 numeric, share3 numeric, rule text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT r.*
      FROM (SELECT suppress_below AS k FROM indicator_settings) s
     CROSS JOIN LATERAL (
         SELECT array_agg(t.survey) AS rounds, array_agg(t.ward) AS wards,
                array_agg(t.suppressed) AS hidden
           FROM ballot_suppression_top(s.k,
                                       ballot_suppression_complementary(),
                                       NULL) t
          WHERE t.level = 'ward') w
     CROSS JOIN LATERAL ballot_rows_of(s.k, w.rounds, w.wards, w.hidden) r
     ORDER BY r.survey, r.ward, r.subject, r.item, r.respondent_group
$$;

-- ---------------------------------------------------------------------
-- What changed since the last refresh.
--
-- A writer of what the published aggregates read adds a row here in its
-- own transaction, once per statement (statement triggers, transition
-- tables): (round, ward) for the ballot tallies, (round, NULL) for the
-- whole of a round whose wards, subjects or forms changed, (NULL, NULL)
-- for every round (org units, catalogue items, the threshold). Rows are
-- only added, never updated, so a writer locks nothing and waits for
-- nobody; the refresh deletes the rows it has seen, in the statement that
-- reads them, before it reads any tally: a row it did not see stays for
-- the next refresh, and a row it saw was committed, with the tallies it
-- stands for, before the refresh read them. (Rows updated in place would
-- make the refresh's delete wait for a writer that waits for the
-- change-number lock the refresh takes later: a deadlock.) Between two
-- refreshes the table holds at most two rows per (round, ward) of each
-- statement that wrote ballots; a refresh reads them all at once.
CREATE TABLE ballot_aggregates_dirty (
    survey text,
    ward text
);
-- Every round, the first time: the snapshot the pull wrote before this
-- migration is compared with the rows as 012 computes them.
INSERT INTO ballot_aggregates_dirty VALUES (NULL, NULL);
REVOKE UPDATE ON ballot_aggregates_dirty FROM wardsync_hub;

-- The ballot tallies: one row per (round, ward) a statement of
-- ballot_counts changed. ballot_level_counts changes only with it, in the
-- same tally triggers (ballots_tally of 001, ballots_untally of 008), so
-- ballot_counts alone is watched: an ingest group, whose ballots are one
-- statement, adds at most two rows per (round, ward) (the upsert's inserted
-- and updated keys). The transition table is "changed" whatever the
-- operation (one trigger per operation, as PostgreSQL wants for transition
-- tables).
CREATE FUNCTION ballot_aggregates_touch_tally() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO ballot_aggregates_dirty (survey, ward)
    SELECT DISTINCT survey, ward FROM changed;
    RETURN NULL;
END
$$;

-- The round tables: the whole of each round a statement changed.
CREATE FUNCTION ballot_aggregates_touch_round() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO ballot_aggregates_dirty (survey, ward)
    SELECT DISTINCT round, NULL::text FROM changed;
    RETURN NULL;
END
$$;

-- Every round.
CREATE FUNCTION ballot_aggregates_touch_all() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO ballot_aggregates_dirty (survey, ward) VALUES (NULL, NULL);
    RETURN NULL;
END
$$;

DO $$
DECLARE
    t text;
    op text;
    fn text;
BEGIN
    FOREACH t IN ARRAY ARRAY['ballot_counts', 'survey_round_wards',
                             'survey_round_subjects', 'survey_round_forms']
    LOOP
        fn := CASE WHEN t = 'ballot_counts'
                   THEN 'ballot_aggregates_touch_tally'
                   ELSE 'ballot_aggregates_touch_round' END;
        FOREACH op IN ARRAY ARRAY['insert', 'update', 'delete']
        LOOP
            -- An update counts the rows as they are after it; a key is
            -- never updated (the tallies) or, in the round tables, its old
            -- round is dirtied by a second trigger.
            EXECUTE format('CREATE TRIGGER %I AFTER %s ON %I'
                           ' REFERENCING %s TABLE AS changed'
                           ' FOR EACH STATEMENT EXECUTE FUNCTION %I()',
                           t || '_aggregates_' || op, upper(op), t,
                           CASE op WHEN 'delete' THEN 'OLD' ELSE 'NEW' END,
                           fn);
        END LOOP;
        IF fn = 'ballot_aggregates_touch_round' THEN
            EXECUTE format('CREATE TRIGGER %I AFTER UPDATE ON %I'
                           ' REFERENCING OLD TABLE AS changed'
                           ' FOR EACH STATEMENT EXECUTE FUNCTION %I()',
                           t || '_aggregates_update_old', t, fn);
        END IF;
    END LOOP;
    FOREACH t IN ARRAY ARRAY['org_units', 'catalogue_items',
                             'indicator_settings']
    LOOP
        EXECUTE format('CREATE TRIGGER %I AFTER INSERT OR UPDATE OR DELETE'
                       ' OR TRUNCATE ON %I FOR EACH STATEMENT'
                       ' EXECUTE FUNCTION ballot_aggregates_touch_all()',
                       t || '_aggregates_all', t);
    END LOOP;
END
$$;

-- ---------------------------------------------------------------------
-- The refresh.

-- The ward cells' decisions the snapshot was last merged with, per round
-- and ward: a refresh recomputes, beside the wards written to, every ward
-- of a dirty round whose decision is not the one here.
CREATE TABLE ballot_aggregates_parts (
    survey text NOT NULL,
    ward text NOT NULL,
    suppressed boolean NOT NULL,
    PRIMARY KEY (survey, ward)
);
REVOKE INSERT, UPDATE ON ballot_aggregates_parts FROM wardsync_hub;

-- A part's rows in the snapshot: row_data's round beside the row's ward.
CREATE INDEX pull_snapshot_ballot_part
    ON pull_snapshot (ward, (row_data ->> 'survey'))
 WHERE dataset = 'ballot_aggregates';

-- Brings the ballot_aggregates rows of pull_snapshot up to date with
-- published.ballot_aggregates, recomputing only the parts (round x ward)
-- that ballot_aggregates_dirty names or whose ward cell's decision the
-- rounds' top now takes differently: a row whose data changed (or that
-- comes back) gets a new change number, a row of a recomputed part that is
-- gone is marked deleted, every other row keeps its number. The rows are
-- computed first, then the change-number lock (pull_change_lock(),
-- sql/003_pull_thread.sql) is taken and they are merged: the lock, which
-- every ingest group waits for, is held for the merge only. Returns the
-- parts recomputed and the rows given a new change number. SECURITY
-- DEFINER: the hub deletes nothing itself, and the rule's functions are
-- not the hub's to call with any k.
CREATE FUNCTION ballot_aggregates_refresh(OUT parts integer,
                                          OUT changed integer)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = public, pg_temp
SET jit = off AS $$
DECLARE
    k integer;
    everything boolean;
    n integer;
BEGIN
    parts := 0;
    changed := 0;
    -- The session's work tables, made on its first refresh.
    IF to_regclass('pg_temp.agg_old') IS NULL THEN
        CREATE TEMP TABLE agg_dirty (survey text, ward text)
            ON COMMIT DELETE ROWS;
        CREATE TEMP TABLE agg_top (survey text, ward text, suppressed boolean)
            ON COMMIT DELETE ROWS;
        CREATE TEMP TABLE agg_parts
            (survey text, ward text, suppressed boolean)
            ON COMMIT DELETE ROWS;
        CREATE TEMP TABLE agg_rows (row_key text, ward text, row_data jsonb)
            ON COMMIT DELETE ROWS;
        CREATE TEMP TABLE agg_old (row_key text, row_data jsonb,
                                   deleted boolean)
            ON COMMIT DELETE ROWS;
    END IF;
    -- The markers seen, deleted in the same statement (see
    -- ballot_aggregates_dirty above).
    WITH gone AS (DELETE FROM ballot_aggregates_dirty RETURNING survey, ward)
    INSERT INTO pg_temp.agg_dirty SELECT DISTINCT survey, ward FROM gone;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    SELECT suppress_below INTO STRICT k FROM indicator_settings;
    everything := EXISTS (SELECT 1 FROM pg_temp.agg_dirty
                           WHERE survey IS NULL);

    -- The tops of the dirty rounds (every round for a (NULL, NULL)).
    INSERT INTO pg_temp.agg_top
    SELECT t.survey, t.ward, t.suppressed
      FROM ballot_suppression_top(k, ballot_suppression_complementary(),
               CASE WHEN everything THEN NULL
                    ELSE (SELECT array_agg(DISTINCT survey)
                            FROM pg_temp.agg_dirty) END) t
     WHERE t.level = 'ward';

    -- The parts to recompute: the wards written to, every ward of a round
    -- touched as a whole, every ward whose decision moved, every ward the
    -- snapshot was merged with that is no longer in its round.
    INSERT INTO pg_temp.agg_parts
    SELECT coalesce(t.survey, p.survey), coalesce(t.ward, p.ward),
           t.suppressed
      FROM pg_temp.agg_top t
      FULL JOIN (SELECT * FROM ballot_aggregates_parts b
                  WHERE everything OR b.survey IN
                        (SELECT survey FROM pg_temp.agg_dirty)) p
        ON p.survey = t.survey AND p.ward = t.ward
     WHERE everything
        OR t.survey IS NULL OR p.survey IS NULL
        OR t.suppressed IS DISTINCT FROM p.suppressed
        OR EXISTS (SELECT 1 FROM pg_temp.agg_dirty d
                    WHERE d.survey = coalesce(t.survey, p.survey)
                      AND (d.ward IS NULL
                           OR d.ward = coalesce(t.ward, p.ward)));
    GET DIAGNOSTICS parts = ROW_COUNT;
    ANALYZE pg_temp.agg_parts;

    -- Their rows, as the snapshot keeps them: the view's natural key, with
    -- the row's hash appended when the key repeats (codes may hold "/").
    INSERT INTO pg_temp.agg_rows
    SELECT concat_ws('/', r.survey, r.ward, r.subject, r.form, r.item::text,
                     r.respondent_group),
           r.ward, to_jsonb(r)
      FROM (SELECT array_agg(survey) AS s, array_agg(ward) AS w,
                   array_agg(suppressed) AS h
              FROM pg_temp.agg_parts
             WHERE suppressed IS NOT NULL) a
     CROSS JOIN LATERAL ballot_rows_of(k, a.s, a.w, a.h) r;
    UPDATE pg_temp.agg_rows r
       SET row_key = r.row_key || '#' || md5(r.row_data::text)
     WHERE r.row_key IN (SELECT x.row_key FROM pg_temp.agg_rows x
                          GROUP BY x.row_key HAVING count(*) > 1);

    -- The parts' rows as the snapshot has them, through the index of the
    -- parts (every row of the dataset when every round is recomputed).
    IF everything THEN
        INSERT INTO pg_temp.agg_old
        SELECT s.row_key, s.row_data, s.deleted FROM pull_snapshot s
         WHERE s.dataset = 'ballot_aggregates';
    ELSE
        INSERT INTO pg_temp.agg_old
        SELECT s.row_key, s.row_data, s.deleted
          FROM pg_temp.agg_parts p
          JOIN pull_snapshot s
            ON s.dataset = 'ballot_aggregates' AND s.ward = p.ward
           AND (s.row_data ->> 'survey') = p.survey;
    END IF;

    PERFORM pull_change_lock();
    -- New and changed rows, in key order; a new row's created_seq is its
    -- first change number, a returning row's its change number now. (A
    -- row the snapshot holds under another part, which only codes with
    -- "/" could make, is not in agg_old: it is written again.)
    INSERT INTO pull_snapshot AS s
           (dataset, row_key, ward, row_data, change_seq, created_seq)
    SELECT 'ballot_aggregates', c.row_key, c.ward, c.row_data, c.seq, c.seq
      FROM (SELECT r.*, nextval('pull_change_seq') AS seq
              FROM (SELECT r.* FROM pg_temp.agg_rows r
                      LEFT JOIN pg_temp.agg_old o ON o.row_key = r.row_key
                     WHERE o.row_key IS NULL OR o.deleted
                        OR o.row_data IS DISTINCT FROM r.row_data
                     ORDER BY r.row_key) r) c
    ON CONFLICT (dataset, row_key) DO UPDATE
       SET row_data = EXCLUDED.row_data, ward = EXCLUDED.ward,
           change_seq = EXCLUDED.change_seq, deleted = false,
           created_seq = CASE WHEN s.deleted THEN EXCLUDED.change_seq
                              ELSE s.created_seq END;
    GET DIAGNOSTICS changed = ROW_COUNT;

    -- Rows of the recomputed parts that are gone.
    UPDATE pull_snapshot s
       SET deleted = true, change_seq = nextval('pull_change_seq')
      FROM (SELECT o.row_key FROM pg_temp.agg_old o
             WHERE NOT o.deleted
               AND NOT EXISTS (SELECT 1 FROM pg_temp.agg_rows r
                                WHERE r.row_key = o.row_key)
             ORDER BY o.row_key) g
     WHERE s.dataset = 'ballot_aggregates' AND s.row_key = g.row_key;
    GET DIAGNOSTICS n = ROW_COUNT;
    changed := changed + n;

    -- The decisions merged.
    DELETE FROM ballot_aggregates_parts b
     USING pg_temp.agg_parts p
     WHERE b.survey = p.survey AND b.ward = p.ward;
    IF everything THEN
        DELETE FROM ballot_aggregates_parts;
    END IF;
    INSERT INTO ballot_aggregates_parts (survey, ward, suppressed)
    SELECT survey, ward, suppressed FROM pg_temp.agg_parts
     WHERE suppressed IS NOT NULL;
END
$$;

REVOKE EXECUTE ON FUNCTION ballot_aggregates_refresh() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ballot_aggregates_refresh() TO wardsync_hub;
