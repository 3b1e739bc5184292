-- 003_rounds: survey rounds (DESIGN §5, §6; issue 5 part 1).
--
-- A round has a code, a form per subject category, open and close dates,
-- the subjects it covers per ward and the expected ballots per ward.
-- Operators manage rounds with "district-hub round ..."; a ballot is
-- accepted only while its round is open, for a subject of its own ward
-- rated on its category's form, collected between the round's dates. The
-- check is a trigger on ballots, so no path into the table can skip it;
-- the hub turns the error into a rejection with this reason.

CREATE TABLE survey_rounds (
    code text PRIMARY KEY CHECK (code ~ '^[A-Za-z0-9._/-]{1,64}$'),
    label text NOT NULL DEFAULT '',
    opens_on date NOT NULL,
    closes_on date NOT NULL CHECK (closes_on >= opens_on),
    state text NOT NULL DEFAULT 'draft'
        CHECK (state IN ('draft', 'open', 'closed')),
    opened_at timestamptz,
    closed_at timestamptz
);

-- The form each category of subject is rated on in this round.
CREATE TABLE survey_round_forms (
    round text NOT NULL REFERENCES survey_rounds (code) ON DELETE CASCADE,
    category text NOT NULL CHECK (category ~ '^[A-Za-z0-9._/-]{1,64}$'),
    form text NOT NULL REFERENCES catalogue_forms (code),
    PRIMARY KEY (round, category)
);

-- The wards a round covers and how many ballots each should hand in.
CREATE TABLE survey_round_wards (
    round text NOT NULL REFERENCES survey_rounds (code) ON DELETE CASCADE,
    ward text NOT NULL REFERENCES org_units (code),
    expected_ballots integer NOT NULL CHECK (expected_ballots >= 0),
    PRIMARY KEY (round, ward)
);

-- The subjects a round covers, per ward (a subject code is unique within
-- its ward).
CREATE TABLE survey_round_subjects (
    round text NOT NULL,
    ward text NOT NULL,
    subject text NOT NULL CHECK (subject ~ '^[A-Za-z0-9._/-]{1,64}$'),
    category text NOT NULL,
    PRIMARY KEY (round, ward, subject),
    FOREIGN KEY (round, ward) REFERENCES survey_round_wards (round, ward)
        ON DELETE CASCADE,
    FOREIGN KEY (round, category) REFERENCES survey_round_forms (round, category)
        ON DELETE CASCADE
);
CREATE INDEX survey_round_subjects_subject
    ON survey_round_subjects (round, subject);

CREATE FUNCTION ballot_check_round() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    r survey_rounds%ROWTYPE;
    cat text;
    want_form text;
BEGIN
    SELECT * INTO r FROM survey_rounds WHERE code = NEW.survey;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'survey: unknown round "%"', NEW.survey
            USING ERRCODE = 'check_violation';
    END IF;
    IF r.state <> 'open' THEN
        RAISE EXCEPTION 'survey: round % is %, not open', r.code,
            CASE r.state WHEN 'draft' THEN 'not yet open' ELSE 'closed' END
            USING ERRCODE = 'check_violation';
    END IF;
    IF NEW.collected_on < r.opens_on OR NEW.collected_on > r.closes_on THEN
        RAISE EXCEPTION 'collected_on: % is outside round % (% to %)',
            NEW.collected_on, r.code, r.opens_on, r.closes_on
            USING ERRCODE = 'check_violation';
    END IF;
    SELECT s.category INTO cat FROM survey_round_subjects s
     WHERE s.round = NEW.survey AND s.ward = NEW.ward
       AND s.subject = NEW.subject;
    IF NOT FOUND THEN
        IF EXISTS (SELECT 1 FROM survey_round_subjects s
                    WHERE s.round = NEW.survey AND s.subject = NEW.subject) THEN
            RAISE EXCEPTION 'subject: % is not a subject of ward % in round %',
                NEW.subject, NEW.ward, NEW.survey
                USING ERRCODE = 'check_violation';
        END IF;
        RAISE EXCEPTION 'subject: unknown subject % in round %',
            NEW.subject, NEW.survey USING ERRCODE = 'check_violation';
    END IF;
    SELECT f.form INTO want_form FROM survey_round_forms f
     WHERE f.round = NEW.survey AND f.category = cat;
    IF want_form <> NEW.form THEN
        RAISE EXCEPTION 'form: subject % is rated on form %, not %',
            NEW.subject, want_form, NEW.form
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER ballot_check_round BEFORE INSERT ON ballots
    FOR EACH ROW EXECUTE FUNCTION ballot_check_round();
