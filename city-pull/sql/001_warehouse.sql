-- 001_warehouse: the city warehouse (docs/DESIGN.md §8, §10).
--
-- One table per pulled dataset in schema "city", keyed by (district,
-- row_key): district is the hub's name as city-pull is told it, row_key
-- the hub's stable key of the row. Beside the dataset's own columns
-- (typed as city-pull/columns.c says) each row keeps the hub's change
-- number and op of the version loaded, and when it was loaded.
--
-- city.cursors holds each hub's cursor per dataset. city.apply_page() is
-- the one writer: it applies one page and moves the cursor in the same
-- statement, hence the same transaction, so a loader killed at any moment
-- leaves rows and cursor agreeing, and the next run goes on from there.
-- Migrations are forward-only and checksummed (city.schema_migrations):
-- never edit this file once applied; write 002_….

CREATE SCHEMA IF NOT EXISTS city;

CREATE TABLE city.cursors (
    district text NOT NULL,
    dataset text NOT NULL,
    cursor text NOT NULL DEFAULT '',
    rows_loaded bigint NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (district, dataset)
);

CREATE TABLE city.petitions (
    district text NOT NULL,
    row_key text NOT NULL,
    change bigint NOT NULL,
    op text NOT NULL CHECK (op IN ('insert', 'update')),
    loaded_at timestamptz NOT NULL,
    ward text,
    petition text,
    kind text,
    channel text,
    status text,
    in_jurisdiction boolean,
    received_on date,
    due_on date,
    overdue boolean,
    note text,
    updated_at timestamptz,
    history jsonb,
    PRIMARY KEY (district, row_key)
);

CREATE TABLE city.sync_status (
    district text NOT NULL,
    row_key text NOT NULL,
    change bigint NOT NULL,
    op text NOT NULL CHECK (op IN ('insert', 'update')),
    loaded_at timestamptz NOT NULL,
    ward text,
    agent_instance text,
    committed_through bigint,
    first_contact timestamptz,
    last_contact timestamptz,
    lag_seconds bigint,
    backlog bigint,
    accepted bigint,
    duplicate bigint,
    conflict bigint,
    rejected bigint,
    PRIMARY KEY (district, row_key)
);

CREATE TABLE city.indicators (
    district text NOT NULL,
    row_key text NOT NULL,
    change bigint NOT NULL,
    op text NOT NULL CHECK (op IN ('insert', 'update')),
    loaded_at timestamptz NOT NULL,
    code text,
    org_unit text,
    name text,
    unit_kind text,
    period text,
    numerator numeric,
    denominator numeric,
    value numeric,
    suppressed boolean,
    rule text,
    PRIMARY KEY (district, row_key)
);

CREATE TABLE city.ballot_aggregates (
    district text NOT NULL,
    row_key text NOT NULL,
    change bigint NOT NULL,
    op text NOT NULL CHECK (op IN ('insert', 'update')),
    loaded_at timestamptz NOT NULL,
    survey text,
    ward text,
    subject text,
    form text,
    item integer,
    respondent_group text,
    suppressed boolean,
    ballots bigint,
    level1 bigint,
    level2 bigint,
    level3 bigint,
    share1 numeric,
    share2 numeric,
    share3 numeric,
    rule text,
    PRIMARY KEY (district, row_key)
);

-- Applies one page of p_dataset from hub p_district and moves its cursor
-- from p_from to p_to. p_rows: [{"op", "key", "change", "values":{…}}]
-- in change order; values as text (jsonb for a jsonb column); a column
-- the table does not have is ignored. A page pulled from the beginning
-- (p_from = '') replaces every row of the district. Refused when the
-- saved cursor is not p_from: another loader moved it meanwhile. Returns
-- the number of rows inserted or replaced.
CREATE FUNCTION city.apply_page(p_dataset text, p_district text,
                                p_rows jsonb, p_from text, p_to text)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    saved text;
    n bigint;
BEGIN
    IF p_dataset NOT IN ('indicators', 'petitions', 'ballot_aggregates',
                         'sync_status') THEN
        RAISE EXCEPTION 'unknown dataset "%"', p_dataset;
    END IF;
    INSERT INTO city.cursors (district, dataset) VALUES (p_district, p_dataset)
    ON CONFLICT DO NOTHING;
    SELECT c.cursor INTO STRICT saved FROM city.cursors c
     WHERE c.district = p_district AND c.dataset = p_dataset FOR UPDATE;
    IF saved <> p_from AND p_from <> '' THEN
        RAISE EXCEPTION 'cursor of % % moved from "%" to "%" meanwhile',
            p_district, p_dataset, p_from, saved
            USING ERRCODE = 'serialization_failure';
    END IF;
    IF p_from = '' THEN
        EXECUTE format('DELETE FROM city.%I WHERE district = $1', p_dataset)
          USING p_district;
    ELSE
        EXECUTE format('DELETE FROM city.%I t USING jsonb_array_elements($2) e'
                       ' WHERE t.district = $1 AND t.row_key = e->>''key''',
                       p_dataset)
          USING p_district, p_rows;
    END IF;
    -- A key the page holds twice (deleted, then created again) counts in
    -- its last version.
    EXECUTE format(
        'INSERT INTO city.%1$I'
        ' SELECT r.* FROM (SELECT DISTINCT ON (e->>''key'') e'
        '                    FROM jsonb_array_elements($2)'
        '                         WITH ORDINALITY AS a (e, ord)'
        '                   ORDER BY e->>''key'', ord DESC) l,'
        '      jsonb_populate_record(NULL::city.%1$I,'
        '          coalesce(l.e->''values'', ''{}'') || jsonb_build_object('
        '              ''district'', $1, ''row_key'', l.e->>''key'','
        '              ''change'', l.e->''change'', ''op'', l.e->>''op'','
        '              ''loaded_at'', now())) r'
        ' WHERE l.e->>''op'' <> ''delete''', p_dataset)
      USING p_district, p_rows;
    GET DIAGNOSTICS n = ROW_COUNT;
    UPDATE city.cursors
       SET cursor = p_to, rows_loaded = rows_loaded + n, updated_at = now()
     WHERE district = p_district AND dataset = p_dataset;
    RETURN n;
END
$$;

-- The city's figures, one row per district and ward (ward codes as the
-- hubs have them): petitions received, resolved, in progress and overdue;
-- ballots received (per survey and subject, counted once, suppressed
-- cells left out); the ward agent's last contact, lag, backlog and
-- rejected events (its newest instance).
CREATE VIEW city.ward_figures AS
WITH units AS (
    SELECT district, ward FROM city.petitions
    UNION SELECT district, ward FROM city.sync_status
    UNION SELECT district, ward FROM city.ballot_aggregates
    UNION SELECT district, org_unit FROM city.indicators
     WHERE unit_kind = 'ward'
), petitions AS (
    SELECT district, ward, count(*) AS petitions_received,
           count(*) FILTER (WHERE status = 'resolved') AS petitions_resolved,
           count(*) FILTER (WHERE status IN ('accepted', 'in_progress'))
               AS petitions_in_progress,
           count(*) FILTER (WHERE overdue) AS petitions_overdue
      FROM city.petitions GROUP BY district, ward
), ballots AS (
    SELECT district, ward, sum(ballots) AS ballots_received
      FROM (SELECT district, ward, survey, subject, max(ballots) AS ballots
              FROM city.ballot_aggregates
             WHERE respondent_group = 'all' AND NOT suppressed
             GROUP BY district, ward, survey, subject) s
     GROUP BY district, ward
), agents AS (
    SELECT DISTINCT ON (district, ward) district, ward, last_contact,
           lag_seconds, backlog, rejected
      FROM city.sync_status
     ORDER BY district, ward, last_contact DESC
)
SELECT u.district, u.ward,
       coalesce(p.petitions_received, 0) AS petitions_received,
       coalesce(p.petitions_resolved, 0) AS petitions_resolved,
       coalesce(p.petitions_in_progress, 0) AS petitions_in_progress,
       coalesce(p.petitions_overdue, 0) AS petitions_overdue,
       coalesce(b.ballots_received, 0) AS ballots_received,
       a.last_contact, a.lag_seconds, a.backlog, a.rejected
  FROM units u
  LEFT JOIN petitions p USING (district, ward)
  LEFT JOIN ballots b USING (district, ward)
  LEFT JOIN agents a USING (district, ward)
 WHERE u.ward IS NOT NULL;

-- One row per district: the sums of its wards, and when each hub was last
-- loaded (the oldest of its datasets' cursors).
CREATE VIEW city.district_figures AS
SELECT w.district, count(*) AS wards,
       sum(w.petitions_received) AS petitions_received,
       sum(w.petitions_resolved) AS petitions_resolved,
       sum(w.petitions_in_progress) AS petitions_in_progress,
       sum(w.petitions_overdue) AS petitions_overdue,
       sum(w.ballots_received) AS ballots_received,
       max(w.lag_seconds) AS max_lag_seconds,
       (SELECT min(c.updated_at) FROM city.cursors c
         WHERE c.district = w.district) AS loaded_at
  FROM city.ward_figures w
 GROUP BY w.district;

-- The analysts' role: reads the warehouse, writes nothing, and has no
-- grant in any hub's database (grant it to a login role:
-- GRANT wardsync_warehouse_reader TO alice).
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles
                    WHERE rolname = 'wardsync_warehouse_reader') THEN
        CREATE ROLE wardsync_warehouse_reader NOLOGIN NOSUPERUSER
            NOCREATEDB NOCREATEROLE NOINHERIT;
    END IF;
END
$$;
REVOKE ALL ON SCHEMA city FROM PUBLIC;
GRANT USAGE ON SCHEMA city TO wardsync_warehouse_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA city TO wardsync_warehouse_reader;
REVOKE ALL ON FUNCTION city.apply_page(text, text, jsonb, text, text)
    FROM PUBLIC;
ALTER DEFAULT PRIVILEGES IN SCHEMA city
    GRANT SELECT ON TABLES TO wardsync_warehouse_reader;
