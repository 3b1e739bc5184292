-- 004_tallies: indicator tallies maintained in the transaction of the
-- events that change them (DESIGN §5, §7; issue 5 part 5).
--
-- Counts that grow with data are kept here by triggers on the typed
-- tables, so they change in the same transaction as the rows they count,
-- whatever path wrote those rows, and reading every indicator of a
-- district is a read of a few thousand rows however many ballots there
-- are. Ballot triggers are statement-level (transition tables), so a
-- ballot's 41 ratings cost one aggregated upsert, not 41. Rows are
-- upserted in key order so that concurrent batches lock them in the same
-- order. Nothing here is ever decremented below zero: petition and
-- reception rows move from one bucket to another when their state changes.

-- Ballots per (round, ward, subject, respondent group).
CREATE TABLE ballot_counts (
    survey text NOT NULL,
    ward text NOT NULL,
    subject text NOT NULL,
    form text NOT NULL,
    respondent_group smallint NOT NULL,
    ballots bigint NOT NULL DEFAULT 0 CHECK (ballots >= 0),
    first_received timestamptz NOT NULL DEFAULT now(),
    last_received timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (survey, ward, subject, respondent_group)
);

-- Ratings per (round, ward, subject, respondent group, item) and level.
CREATE TABLE ballot_tallies (
    survey text NOT NULL,
    ward text NOT NULL,
    subject text NOT NULL,
    respondent_group smallint NOT NULL,
    item smallint NOT NULL,
    n1 bigint NOT NULL DEFAULT 0 CHECK (n1 >= 0),
    n2 bigint NOT NULL DEFAULT 0 CHECK (n2 >= 0),
    n3 bigint NOT NULL DEFAULT 0 CHECK (n3 >= 0),
    PRIMARY KEY (survey, ward, subject, item, respondent_group)
);

-- The same summed over respondent groups: what the flag rule reads.
CREATE TABLE ballot_item_tallies (
    survey text NOT NULL,
    ward text NOT NULL,
    subject text NOT NULL,
    item smallint NOT NULL,
    n1 bigint NOT NULL DEFAULT 0 CHECK (n1 >= 0),
    n2 bigint NOT NULL DEFAULT 0 CHECK (n2 >= 0),
    n3 bigint NOT NULL DEFAULT 0 CHECK (n3 >= 0),
    PRIMARY KEY (survey, ward, subject, item)
);

CREATE FUNCTION ballots_tally() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO ballot_counts AS t
           (survey, ward, subject, form, respondent_group, ballots)
    SELECT survey, ward, subject, min(form), respondent_group, count(*)
      FROM new_ballots
     GROUP BY survey, ward, subject, respondent_group
     ORDER BY survey, ward, subject, respondent_group
    ON CONFLICT (survey, ward, subject, respondent_group) DO UPDATE
       SET ballots = t.ballots + EXCLUDED.ballots,
           last_received = now();
    RETURN NULL;
END
$$;

CREATE TRIGGER ballots_tally AFTER INSERT ON ballots
    REFERENCING NEW TABLE AS new_ballots
    FOR EACH STATEMENT EXECUTE FUNCTION ballots_tally();

CREATE FUNCTION ballot_levels_tally() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    WITH batch AS (
        SELECT b.survey, b.ward, b.subject, b.respondent_group, l.item,
               count(*) FILTER (WHERE l.level = 1) AS n1,
               count(*) FILTER (WHERE l.level = 2) AS n2,
               count(*) FILTER (WHERE l.level = 3) AS n3
          FROM new_levels l JOIN ballots b USING (event_id)
         GROUP BY b.survey, b.ward, b.subject, b.respondent_group, l.item
    ), by_group AS (
        INSERT INTO ballot_tallies AS t
               (survey, ward, subject, respondent_group, item, n1, n2, n3)
        SELECT survey, ward, subject, respondent_group, item, n1, n2, n3
          FROM batch
         ORDER BY survey, ward, subject, item, respondent_group
        ON CONFLICT (survey, ward, subject, item, respondent_group) DO UPDATE
           SET n1 = t.n1 + EXCLUDED.n1, n2 = t.n2 + EXCLUDED.n2,
               n3 = t.n3 + EXCLUDED.n3
        RETURNING 1
    )
    INSERT INTO ballot_item_tallies AS t
           (survey, ward, subject, item, n1, n2, n3)
    SELECT survey, ward, subject, item, sum(n1), sum(n2), sum(n3)
      FROM batch
     GROUP BY survey, ward, subject, item
     ORDER BY survey, ward, subject, item
    ON CONFLICT (survey, ward, subject, item) DO UPDATE
       SET n1 = t.n1 + EXCLUDED.n1, n2 = t.n2 + EXCLUDED.n2,
           n3 = t.n3 + EXCLUDED.n3;
    RETURN NULL;
END
$$;

CREATE TRIGGER ballot_levels_tally AFTER INSERT ON ballot_levels
    REFERENCING NEW TABLE AS new_levels
    FOR EACH STATEMENT EXECUTE FUNCTION ballot_levels_tally();

-- Petitions (current state) per ward, day received, kind, status and
-- jurisdiction.
CREATE TABLE petition_tallies (
    ward text NOT NULL,
    received_on date NOT NULL,
    kind text NOT NULL,
    status text NOT NULL,
    in_jurisdiction boolean NOT NULL,
    n bigint NOT NULL DEFAULT 0 CHECK (n >= 0),
    PRIMARY KEY (ward, received_on, kind, status, in_jurisdiction)
);

CREATE FUNCTION petitions_tally() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE petition_tallies SET n = n - 1
         WHERE ward = OLD.ward AND received_on = OLD.received_on
           AND kind = OLD.kind AND status = OLD.status
           AND in_jurisdiction = OLD.in_jurisdiction;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO petition_tallies AS t
               (ward, received_on, kind, status, in_jurisdiction, n)
        VALUES (NEW.ward, NEW.received_on, NEW.kind, NEW.status,
                NEW.in_jurisdiction, 1)
        ON CONFLICT (ward, received_on, kind, status, in_jurisdiction)
        DO UPDATE SET n = t.n + 1;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER petitions_tally AFTER INSERT OR UPDATE OR DELETE ON petitions
    FOR EACH ROW EXECUTE FUNCTION petitions_tally();

-- Reception sessions and citizens per ward, day and host role.
CREATE TABLE reception_tallies (
    ward text NOT NULL,
    held_on date NOT NULL,
    host_role text NOT NULL,
    sessions bigint NOT NULL DEFAULT 0 CHECK (sessions >= 0),
    citizens bigint NOT NULL DEFAULT 0 CHECK (citizens >= 0),
    PRIMARY KEY (ward, held_on, host_role)
);

CREATE FUNCTION reception_tally() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE reception_tallies
           SET sessions = sessions - 1, citizens = citizens - OLD.citizens
         WHERE ward = OLD.ward AND held_on = OLD.held_on
           AND host_role = OLD.host_role;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO reception_tallies AS t
               (ward, held_on, host_role, sessions, citizens)
        VALUES (NEW.ward, NEW.held_on, NEW.host_role, 1, NEW.citizens)
        ON CONFLICT (ward, held_on, host_role)
        DO UPDATE SET sessions = t.sessions + 1,
                      citizens = t.citizens + EXCLUDED.citizens;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER reception_tally
    AFTER INSERT OR UPDATE OR DELETE ON reception_sessions
    FOR EACH ROW EXECUTE FUNCTION reception_tally();

-- Rejected events per ward, kind and day received.
CREATE TABLE rejected_tallies (
    ward text NOT NULL,
    kind text NOT NULL,
    received_on date NOT NULL,
    n bigint NOT NULL DEFAULT 0 CHECK (n >= 0),
    PRIMARY KEY (ward, kind, received_on)
);

CREATE FUNCTION rejected_tally() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO rejected_tallies AS t (ward, kind, received_on, n)
    SELECT ward, kind, (received_at AT TIME ZONE 'Asia/Ho_Chi_Minh')::date,
           count(*)
      FROM new_rejected
     GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    ON CONFLICT (ward, kind, received_on) DO UPDATE SET n = t.n + EXCLUDED.n;
    RETURN NULL;
END
$$;

CREATE TRIGGER rejected_tally AFTER INSERT ON rejected_events
    REFERENCING NEW TABLE AS new_rejected
    FOR EACH STATEMENT EXECUTE FUNCTION rejected_tally();

-- A database that already holds rows starts with tallies that count them.
INSERT INTO ballot_counts (survey, ward, subject, form, respondent_group,
                           ballots)
SELECT survey, ward, subject, min(form), respondent_group, count(*)
  FROM ballots GROUP BY survey, ward, subject, respondent_group;
INSERT INTO ballot_tallies
SELECT b.survey, b.ward, b.subject, b.respondent_group, l.item,
       count(*) FILTER (WHERE l.level = 1), count(*) FILTER (WHERE l.level = 2),
       count(*) FILTER (WHERE l.level = 3)
  FROM ballot_levels l JOIN ballots b USING (event_id)
 GROUP BY b.survey, b.ward, b.subject, b.respondent_group, l.item;
INSERT INTO ballot_item_tallies
SELECT survey, ward, subject, item, sum(n1), sum(n2), sum(n3)
  FROM ballot_tallies GROUP BY survey, ward, subject, item;
INSERT INTO petition_tallies
SELECT ward, received_on, kind, status, in_jurisdiction, count(*)
  FROM petitions GROUP BY 1, 2, 3, 4, 5;
INSERT INTO reception_tallies
SELECT ward, held_on, host_role, count(*), sum(citizens)
  FROM reception_sessions GROUP BY 1, 2, 3;
INSERT INTO rejected_tallies
SELECT ward, kind, (received_at AT TIME ZONE 'Asia/Ho_Chi_Minh')::date, count(*)
  FROM rejected_events GROUP BY 1, 2, 3;
