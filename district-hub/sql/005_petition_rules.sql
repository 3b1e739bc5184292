-- 005_petition_rules: petition deadlines and the hub's indicator settings
-- (DESIGN §6; issue 5 parts 2 and 3).

-- Legal deadlines per petition kind, versioned by the date a rule takes
-- effect: a petition follows the newest rule in effect on the day it was
-- received. Days are calendar days. An office extends a deadline by
-- setting the petition's due_on later than the base deadline; the hub
-- counts at most max_extensions x extension_days of it.
CREATE TABLE petition_deadline_rules (
    kind text NOT NULL CHECK (kind IN ('complaint', 'denunciation',
                                       'recommendation', 'reflection')),
    effective_from date NOT NULL,
    accept_days integer NOT NULL CHECK (accept_days >= 0),
    resolve_days integer NOT NULL CHECK (resolve_days >= 0),
    extension_days integer NOT NULL DEFAULT 0 CHECK (extension_days >= 0),
    max_extensions integer NOT NULL DEFAULT 0 CHECK (max_extensions >= 0),
    source text NOT NULL DEFAULT '',
    PRIMARY KEY (kind, effective_from)
);

-- The defaults of DESIGN §6; district-hub/data/petition_rules.csv holds
-- the same rows for operators to read.
INSERT INTO petition_deadline_rules VALUES
    ('complaint', '2012-07-01', 10, 30, 15, 1, 'DESIGN §6: 30 days, 45 when extended'),
    ('denunciation', '2012-07-01', 10, 30, 30, 1, 'DESIGN §6: 30 days, extended once by 30'),
    ('recommendation', '2012-07-01', 10, 15, 0, 0, 'answered within 15 days'),
    ('reflection', '2012-07-01', 10, 15, 0, 0, 'answered within 15 days');

-- Dates of acceptance and resolution of each petition, from its history,
-- kept by a trigger so a deadline read never scans the history.
CREATE TABLE petition_dates (
    ward text NOT NULL,
    petition text NOT NULL,
    accepted_on date,
    resolved_on date,
    PRIMARY KEY (ward, petition)
);

CREATE FUNCTION petition_dates_track() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    day date := (NEW.occurred_at AT TIME ZONE 'UTC')::date;
BEGIN
    INSERT INTO petition_dates AS d (ward, petition, accepted_on, resolved_on)
    VALUES (NEW.ward, NEW.petition,
            CASE WHEN NEW.status IN ('accepted', 'in_progress', 'resolved')
                 THEN day END,
            CASE WHEN NEW.status = 'resolved' THEN day END)
    ON CONFLICT (ward, petition) DO UPDATE
       SET accepted_on = CASE
               WHEN d.accepted_on IS NULL THEN EXCLUDED.accepted_on
               WHEN EXCLUDED.accepted_on IS NULL THEN d.accepted_on
               ELSE least(d.accepted_on, EXCLUDED.accepted_on) END,
           resolved_on = CASE
               WHEN d.resolved_on IS NULL THEN EXCLUDED.resolved_on
               WHEN EXCLUDED.resolved_on IS NULL THEN d.resolved_on
               ELSE least(d.resolved_on, EXCLUDED.resolved_on) END;
    RETURN NULL;
END
$$;

CREATE TRIGGER petition_dates_track AFTER INSERT ON petition_history
    FOR EACH ROW EXECUTE FUNCTION petition_dates_track();

INSERT INTO petition_dates (ward, petition, accepted_on, resolved_on)
SELECT ward, petition,
       min((occurred_at AT TIME ZONE 'UTC')::date)
           FILTER (WHERE status IN ('accepted', 'in_progress', 'resolved')),
       min((occurred_at AT TIME ZONE 'UTC')::date)
           FILTER (WHERE status = 'resolved')
  FROM petition_history GROUP BY ward, petition;

-- The thresholds of the hub's configuration ([hub] flag_min_ballots,
-- flag_level3_share, flag_level23_share, suppress_below, due_soon_days),
-- written by "district-hub migrate" so that the published views use the
-- same values as "district-hub indicators". One row.
CREATE TABLE indicator_settings (
    id boolean PRIMARY KEY DEFAULT true CHECK (id),
    flag_min_ballots integer NOT NULL DEFAULT 10 CHECK (flag_min_ballots >= 1),
    flag_level3_share numeric NOT NULL DEFAULT 0.30
        CHECK (flag_level3_share > 0 AND flag_level3_share <= 1),
    flag_level23_share numeric NOT NULL DEFAULT 0.50
        CHECK (flag_level23_share > 0 AND flag_level23_share <= 1),
    suppress_below integer NOT NULL DEFAULT 10 CHECK (suppress_below >= 1),
    due_soon_days integer NOT NULL DEFAULT 5 CHECK (due_soon_days >= 0)
);
INSERT INTO indicator_settings DEFAULT VALUES;

-- Every petition's deadlines and state on day as_of: "closed" (withdrawn
-- or transferred), "resolved_on_time", "resolved_late", and for open
-- petitions in jurisdiction "on_time", "due_soon" or "overdue". An open
-- petition not yet accepted is held to its acceptance deadline.
CREATE FUNCTION petition_deadlines(as_of date, due_soon integer)
RETURNS TABLE (ward text, petition text, kind text, status text,
               in_jurisdiction boolean, received_on date,
               accepted_on date, resolved_on date, accept_due date,
               resolve_due date, due date, state text)
LANGUAGE sql STABLE AS $$
    SELECT p.ward, p.petition, p.kind, p.status, p.in_jurisdiction,
           p.received_on, d.accepted_on, d.resolved_on, x.accept_due,
           x.resolve_due,
           CASE WHEN d.accepted_on IS NULL THEN x.accept_due
                ELSE x.resolve_due END,
           CASE
             WHEN p.status IN ('withdrawn', 'transferred')
                  OR NOT p.in_jurisdiction THEN 'closed'
             WHEN p.status = 'resolved' THEN
               CASE WHEN coalesce(d.resolved_on, as_of) <= x.resolve_due
                    THEN 'resolved_on_time' ELSE 'resolved_late' END
             WHEN as_of > CASE WHEN d.accepted_on IS NULL THEN x.accept_due
                               ELSE x.resolve_due END THEN 'overdue'
             WHEN CASE WHEN d.accepted_on IS NULL THEN x.accept_due
                       ELSE x.resolve_due END - as_of <= due_soon
                  THEN 'due_soon'
             ELSE 'on_time'
           END
      FROM petitions p
      LEFT JOIN petition_dates d USING (ward, petition)
      CROSS JOIN LATERAL (
          SELECT r.* FROM petition_deadline_rules r
           WHERE r.kind = p.kind AND r.effective_from <= p.received_on
           ORDER BY r.effective_from DESC LIMIT 1) r
      CROSS JOIN LATERAL (
          SELECT p.received_on + r.accept_days AS accept_due,
                 coalesce(d.accepted_on, p.received_on) + r.resolve_days
                   + least(greatest(coalesce(p.due_on
                       - (coalesce(d.accepted_on, p.received_on)
                          + r.resolve_days), 0), 0),
                       r.extension_days * r.max_extensions) AS resolve_due) x
$$;
