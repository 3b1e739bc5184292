-- 010_plans_as_of.sql - a remediation plan as it stood on the as-of day
-- (issue #10 item 8; docs/DESIGN.md §6 Remediation, §7 "as of").
--
-- flagged_subjects() said "its plan as it stood on p_as_of" but gave the
-- plan's current status and completion: "report --as-of 2024-05-31" of
-- the seed showed 19 plans completed in the remediation chart while
-- remediation_on_time as of that day read 11/22 (plans completed in
-- June already counted as done in May). Now every column comes from the
-- plan's history (remediation_history, which a withdrawal also cleans)
-- up to p_as_of:
--   plan_status   the status of its latest change on or before p_as_of,
--                 'none' when it had none yet;
--   due_on        the due date that change carried;
--   completed_on  when that status is completed: the day of the latest
--                 change into completed on or before p_as_of (a completed
--                 plan sent again unchanged keeps its day; one reopened and
--                 completed again takes the later), else NULL;
--   on_time       completed by p_as_of on or before its due date;
--   overdue       due before p_as_of and not completed on p_as_of.
-- remediation_on_time, remediation_overdue and remediation_missing of
-- indicator_values() count these rows, the report lists them: one
-- definition, now true on every day. Same signature (CREATE OR REPLACE).

CREATE OR REPLACE FUNCTION flagged_subjects(p_from date, p_to date,
                                            p_as_of date,
                                            p_min_ballots integer,
                                            p_level3_share numeric,
                                            p_level23_share numeric)
RETURNS TABLE (survey text, ward text, subject text, ballots numeric,
               plan_status text, due_on date, completed_on date,
               on_time boolean, overdue boolean)
LANGUAGE sql STABLE AS $$
    WITH changes AS (
        SELECT h.ward, h.survey, h.subject, h.status, h.due_on,
               h.occurred_at, h.seq, h.event_id,
               (h.occurred_at AT TIME ZONE 'UTC')::date AS day,
               lag(h.status) OVER (PARTITION BY h.ward, h.survey, h.subject
                                   ORDER BY h.occurred_at, h.seq, h.event_id)
                   AS prev
          FROM remediation_history h
         WHERE (h.occurred_at AT TIME ZONE 'UTC')::date <= p_as_of
    ), state AS (
        SELECT DISTINCT ON (c.ward, c.survey, c.subject)
               c.ward, c.survey, c.subject, c.status, c.due_on
          FROM changes c
         ORDER BY c.ward, c.survey, c.subject, c.occurred_at DESC,
                  c.seq DESC, c.event_id DESC
    ), done AS (
        SELECT c.ward, c.survey, c.subject,
               max(c.day) FILTER (WHERE c.status = 'completed'
                                  AND c.prev IS DISTINCT FROM 'completed')
                   AS completed_on
          FROM changes c
         GROUP BY c.ward, c.survey, c.subject
    )
    SELECT s.survey, s.ward, s.subject, s.ballots,
           coalesce(st.status, 'none'), st.due_on,
           CASE WHEN st.status = 'completed' THEN d.completed_on END,
           coalesce(st.status = 'completed'
                    AND d.completed_on <= st.due_on, false),
           coalesce(st.due_on < p_as_of AND st.status <> 'completed', false)
      FROM subject_flags(p_from, p_to, p_min_ballots, p_level3_share,
                         p_level23_share) s
      LEFT JOIN state st
        ON st.survey = s.survey AND st.ward = s.ward AND st.subject = s.subject
      LEFT JOIN done d
        ON d.survey = s.survey AND d.ward = s.ward AND d.subject = s.subject
     WHERE s.flagged
$$;
