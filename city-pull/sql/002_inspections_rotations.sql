-- 002_inspections_rotations: the hub's datasets inspections and rotations
-- (district-hub/sql/006_inspections_rotations.sql, docs/contracts.md) in
-- the warehouse, one table each like the others of 001, and the one
-- writer city.apply_page() taking them (001's body, CREATE OR REPLACE,
-- with the two names added). A rotation fact carries no cadre code: the
-- hub never publishes one.

CREATE TABLE city.inspections (
    district text NOT NULL,
    row_key text NOT NULL,
    change bigint NOT NULL,
    op text NOT NULL CHECK (op IN ('insert', 'update')),
    loaded_at timestamptz NOT NULL,
    ward text,
    inspection text,
    body text,
    unit text,
    held_on date,
    kind text,
    subjects bigint,
    violations bigint,
    note text,
    PRIMARY KEY (district, row_key)
);

CREATE TABLE city.rotations (
    district text NOT NULL,
    row_key text NOT NULL,
    change bigint NOT NULL,
    op text NOT NULL CHECK (op IN ('insert', 'update')),
    loaded_at timestamptz NOT NULL,
    ward text,
    record text,
    post text,
    unit text,
    kind text,
    effective_on date,
    years_in_post bigint,
    PRIMARY KEY (district, row_key)
);

CREATE OR REPLACE FUNCTION city.apply_page(p_dataset text, p_district text,
                                p_rows jsonb, p_from text, p_to text)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    saved text;
    n bigint;
BEGIN
    IF p_dataset NOT IN ('indicators', 'petitions', 'ballot_aggregates',
                         'sync_status', 'inspections', 'rotations') THEN
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

GRANT SELECT ON city.inspections, city.rotations TO wardsync_warehouse_reader;
REVOKE ALL ON FUNCTION city.apply_page(text, text, jsonb, text, text)
    FROM PUBLIC;
