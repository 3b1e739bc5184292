#!/usr/bin/env python3
"""The independent recount: every indicator from the input CSV files alone.

Written from docs/DESIGN.md §6/§7, docs/contracts.md and the brief's §6/§7
(../shared/DESIGN.md), without reading the hub's SQL or its indicator code:
a second implementation, so that a wrong definition in one shows up as a
difference. It reads the files a ward imports (ballots, petitions,
reception, remediation), the rounds file of "district-hub round create
--file", the hub's data files (org units, petition deadline rules), and
three facts no CSV file holds: the day the hub received the files
(Asia/Ho_Chi_Minh; for reporting timeliness and rejections), the agents'
last contact (for sync_lag), and today.

Usage as a program: recount.py DIR --period P [--as-of D] [--arrived-on D]
prints the rows as "district-hub indicators --format csv" does. The driver
(driver.py) imports it and calls load(), compute() and compare().

Definitions (tests/recount/README.md gives the reasons where the documents
leave a choice):

rows      every ward of org_units.csv; for a unit with children its own
          records as "CODE-office" and its rollup "CODE" over its whole
          subtree (DESIGN §7: "a total for every unit that has children").
          Only reporting units count (wards, units of kind district, any
          unit that sent records): a city's office row counts nothing and
          its weeks are not in any chair_reception_weeks denominator.
ballots   one row per round whose dates meet the period, for the wards the
          round covers and every ancestor of them; a ballot counts when its
          round lists its subject in the sending ward, its form is that of
          the subject's category and its day lies in the round's dates;
          otherwise it is a rejected ballot event, counted by the day it
          arrived.
flag      >= min_ballots ballots and, on some item, n3 >= 0.30 n or
          n2 + n3 >= 0.50 n, compared exactly.
plans     per (round, subject), rows ordered by (changed_on, file order);
          current state = the last; completed on = the day of the row that
          moved it to completed (a completed row after a completed one does
          not move it; completed again after a reopening takes the later);
          due = the current row's due_on.
petitions a cohort by received_on; current state = the last row by
          (changed_on, file order); accepted on = the first day of a row in
          accepted, in_progress or resolved; legal due = accepted on +
          resolve days + min(max(due_on - that, 0), extension x times);
          before acceptance the due date is received on + accept days; in
          jurisdiction = current state accepted, in_progress or resolved;
          in progress = accepted or in_progress; open = received, accepted
          or in_progress; on time = the last resolution <= legal due; days
          to resolve = last resolution - accepted on, percentile_cont.
reception a cohort by held_on; chair weeks = distinct ISO weeks (Monday) of
          sessions hosted by the chair; weeks in the period = ISO weeks
          that meet the period and have begun by the as-of day (for "all":
          from the first session of the whole hub to the as-of day); a rollup's
          denominator is the weeks times its reporting units.
as of     --as-of D, or else today when the period is "all" or not over,
          else the period's last day; "today" in Asia/Ho_Chi_Minh.
publication  a ballot-derived cell of 1..k-1 ballots must be suppressed;
          a cell of 0 ballots may be 0 or suppressed; a cell of k or more
          may be suppressed (complementary suppression, checked by the
          auditor, not here) and else must equal the recount exactly.
"""

import argparse
import csv
import datetime as dt
import os
import sys
from decimal import Decimal, ROUND_HALF_UP
from fractions import Fraction

D = dt.date
DAY = dt.timedelta(days=1)
HANOI = dt.timezone(dt.timedelta(hours=7))

# docs/contracts.md, [hub] defaults
MIN_BALLOTS = 10
LEVEL3_SHARE = Fraction(30, 100)
LEVEL23_SHARE = Fraction(50, 100)
SUPPRESS_BELOW = 10

BALLOT_CODES = ["ballots_received", "ballot_completeness", "subject_score",
                "subjects_flagged", "remediation_on_time", "remediation_overdue",
                "remediation_missing", "ward_reporting_timeliness"]
RATIO_CODES = {"ballot_completeness", "subject_score", "remediation_on_time",
               "ward_reporting_timeliness", "petition_resolution_rate",
               "petition_on_time_rate", "citizens_per_session",
               "chair_reception_weeks"}
FORMS = {"leadership": 41, "staff": 36}


def read_csv(path):
    with open(path, newline="", encoding="utf-8-sig") as f:
        return list(csv.DictReader(f))


def day(text):
    return D.fromisoformat(text)


class Inputs:
    pass


def load(data_dir, hub_data_dir):
    """Reads every input file of one generated district."""
    x = Inputs()
    x.units = {}         # code -> (kind, parent)
    for r in read_csv(os.path.join(hub_data_dir, "org_units.csv")):
        x.units[r["code"]] = (r["kind"], r["parent"] or None)
    x.rules = {}
    for r in read_csv(os.path.join(hub_data_dir, "petition_rules.csv")):
        x.rules.setdefault(r["kind"], []).append(
            (day(r["effective_from"]), int(r["accept_days"]), int(r["resolve_days"]),
             int(r["extension_days"]), int(r["max_extensions"])))
    x.rounds = {}
    for r in read_csv(os.path.join(data_dir, "rounds.csv")):
        rd = x.rounds.setdefault(r["round"], {"forms": {}, "wards": {}, "subjects": {}})
        if r["record"] == "round":
            rd["opens"], rd["closes"] = day(r["a"]), day(r["b"])
        elif r["record"] == "form":
            rd["forms"][r["a"]] = r["b"]
        elif r["record"] == "ward":
            rd["wards"][r["a"]] = int(r["b"])
        elif r["record"] == "subject":
            rd["subjects"][(r["a"], r["b"])] = r["c"]
    x.files = {}
    for unit in sorted(os.listdir(data_dir)):
        p = os.path.join(data_dir, unit)
        if not os.path.isdir(p):
            continue
        x.files[unit] = {}
        for kind in ("ballots", "petitions", "reception", "remediation",
                     "inspections", "rotations"):
            f = os.path.join(p, kind + ".csv")
            x.files[unit][kind] = read_csv(f) if os.path.exists(f) else []
    return x


# ------------------------------------------------------------ org tree
def children(x):
    ch = {}
    for code, (_, parent) in x.units.items():
        if parent:
            ch.setdefault(parent, []).append(code)
    return ch


def reporting_units(x):
    """Org-unit row names and, for each, the senders it covers."""
    ch = children(x)
    rows = {}

    def reports(code):
        # units that report (docs/DESIGN.md §7): wards, district offices,
        # any other unit that sent files; a city above its districts does
        # not, so its office row counts nothing
        kind = x.units[code][0]
        return code not in ch or kind == "district" or code in x.files

    def subtree_senders(code):
        out = [code] if reports(code) else []
        for c in ch.get(code, []):
            out += subtree_senders(c)
        return out

    for code, (kind, _) in x.units.items():
        if code not in ch:
            rows[code] = [code]
        else:
            # every unit with children has an office row (docs/contracts.md)
            rows[code + "-office"] = [code] if reports(code) else []
            rows[code] = subtree_senders(code)
    return rows


# ------------------------------------------------------------ periods
def period_bounds(period):
    """(from, to) of a period; (None, None) for all."""
    if period == "all":
        return None, None
    if ".." in period:
        a, b = period.split("..")
        return day(a), day(b)
    if len(period) == 4:
        y = int(period)
        return D(y, 1, 1), D(y, 12, 31)
    if "-Q" in period:
        y, q = int(period[:4]), int(period[6])
        start = D(y, 3 * q - 2, 1)
        end = D(y + (q == 4), (3 * q) % 12 + 1, 1) - DAY
        return start, end
    if len(period) == 7:
        y, m = int(period[:4]), int(period[5:7])
        return D(y, m, 1), D(y + (m == 12), m % 12 + 1, 1) - DAY
    d = day(period)
    return d, d


def in_period(d, lo, hi):
    return lo is None or (lo <= d <= hi)


def monday(d):
    return d - DAY * d.weekday()


# ------------------------------------------------------------ ballots
def ballot_facts(x, arrived_on):
    """Per round: per ward the valid ballots; per subject the tallies; and
    rejected ballot events per sender."""
    valid = {}        # (round, ward) -> list of (subject, levels)
    rejected = {}     # sender -> [arrival day]
    for unit, files in x.files.items():
        for b in files["ballots"]:
            rd = x.rounds.get(b["survey"])
            cat = rd and rd["subjects"].get((unit, b["subject"]))
            ok = (rd is not None and cat is not None and
                  rd["forms"].get(cat) == b["form"] and
                  rd["opens"] <= day(b["collected_on"]) <= rd["closes"])
            if not ok:
                rejected.setdefault(unit, []).append(arrived_on)
                continue
            levels = [int(b["i%02d" % i]) for i in range(1, FORMS[b["form"]] + 1)]
            valid.setdefault((b["survey"], unit), []).append((b["subject"], levels))
    return valid, rejected


def flagged(ballots):
    n = len(ballots)
    if n < MIN_BALLOTS:
        return False
    items = len(ballots[0])
    for i in range(items):
        n3 = sum(1 for b in ballots if b[i] == 3)
        n23 = sum(1 for b in ballots if b[i] >= 2)
        if n3 >= LEVEL3_SHARE * n or n23 >= LEVEL23_SHARE * n:
            return True
    return False


def plans(x, legacy=()):
    """(round, subject) -> {'state', 'due', 'completed_on'}."""
    rows = {}
    for unit, files in x.files.items():
        for order, r in enumerate(files["remediation"]):
            rows.setdefault((r["survey"], r["subject"]), []).append(
                (day(r["changed_on"]), order, r["status"], day(r["due_on"])))
    out = {}
    for key, evs in rows.items():
        evs.sort(key=lambda e: (e[0], e[1]))
        completed_on = None
        prev = None
        for changed, _, status, _ in evs:
            if status == "completed" and (prev != "completed" or
                                          "completion_last_row" in legacy):
                completed_on = changed
            prev = status
        last = evs[-1]
        out[key] = {"state": last[2], "due": last[3],
                    "completed_on": completed_on if last[2] == "completed" else None}
    return out


# ------------------------------------------------------------ petitions
def rule_for(x, kind, received):
    best = None
    for r in x.rules[kind]:
        if r[0] <= received and (best is None or r[0] > best[0]):
            best = r
    return best


def petitions(x, legacy=()):
    """sender -> list of petition facts."""
    out = {}
    for unit, files in x.files.items():
        hist = {}
        for order, r in enumerate(files["petitions"]):
            hist.setdefault(r["petition"], []).append((day(r["changed_on"]), order, r))
        for code, evs in hist.items():
            evs.sort(key=lambda e: (e[0], e[1]))
            cur = evs[-1][2]
            received = day(cur["received_on"])
            _, accept_days, resolve_days, ext_days, max_ext = rule_for(x, cur["kind"], received)
            acc = [e[0] for e in evs if e[2]["status"] in ("accepted", "in_progress", "resolved")]
            accepted_on = min(acc) if acc else None
            typed = None
            for e in evs:
                if e[2]["due_on"]:
                    typed = day(e[2]["due_on"])
            accept_due = received + DAY * accept_days
            resolve_due = None
            if accepted_on:
                base = accepted_on + DAY * resolve_days
                ext = 0 if typed is None else min(max((typed - base).days, 0), ext_days * max_ext)
                resolve_due = base + DAY * ext
            state = cur["status"]
            resolved_on = evs[-1][0] if state == "resolved" else None
            if resolved_on and "first_resolution" in legacy:
                resolved_on = min(e[0] for e in evs if e[2]["status"] == "resolved")
            out.setdefault(unit, []).append({
                "code": code, "received": received, "state": state,
                "flag": cur["in_jurisdiction"].lower() in ("yes", "true", "1"),
                "accepted_on": accepted_on, "accept_due": accept_due,
                "resolve_due": resolve_due, "resolved_on": resolved_on})
    return out


def percentile_cont(values, p):
    v = sorted(values)
    if not v:
        return None
    pos = Fraction(p) * (len(v) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (pos - lo)


# ------------------------------------------------------------ compute
def compute(x, period, as_of=None, today=None, arrived_on=None, status=None, now=None,
            legacy=()):
    """Rows {(code, org_unit, period): cell}; a cell is a dict with
    numerator, denominator, value (Fraction or int or None), ballots (for
    ballot-derived cells) and kind."""
    today = today or dt.datetime.now(HANOI).date()
    arrived_on = arrived_on or today
    lo, hi = period_bounds(period)
    if as_of is None:
        as_of = today if hi is None or hi >= today else hi
    units = reporting_units(x)
    rows = {}

    def put(code, unit, per, num, den=None, ratio=False, ballots=None, value=None):
        if ratio:
            value = Fraction(num, den) if den else None
        elif value is None:
            value = num
        rows[(code, unit, per)] = {"num": num, "den": den, "value": value,
                                   "ratio": ratio, "ballots": ballots,
                                   "places": places_of(code)}

    # ---- ballots, per round
    valid, rejected = ballot_facts(x, arrived_on)
    pl = plans(x, legacy)
    for rc, rd in sorted(x.rounds.items()):
        if lo is not None and not (rd["opens"] <= hi and rd["closes"] >= lo):
            continue
        per_ward = {}
        for w, expected in rd["wards"].items():
            bl = valid.get((rc, w), [])
            subj = {}
            for s, levels in bl:
                subj.setdefault(s, []).append(levels)
            fl = [s for s in subj if flagged(subj[s])]
            on_time = sum(1 for s in fl if (rc, s) in pl and pl[(rc, s)]["completed_on"]
                          and pl[(rc, s)]["completed_on"] <= pl[(rc, s)]["due"])
            overdue = sum(1 for s in fl if (rc, s) in pl and pl[(rc, s)]["state"] != "completed"
                          and pl[(rc, s)]["due"] < as_of)
            missing = sum(1 for s in fl if (rc, s) not in pl)
            timely = 1 if bl and arrived_on <= rd["closes"] else 0
            per_ward[w] = {"n": len(bl), "expected": expected,
                           "levels": sum(sum(l) for _, l in bl),
                           "ratings": sum(len(l) for _, l in bl),
                           "flagged": len(fl), "on_time": on_time,
                           "overdue": overdue, "missing": missing,
                           "timely": timely, "wards": 1}
        for name, senders in units.items():
            ws = [per_ward[s] for s in senders if s in per_ward]
            if not ws:
                continue
            if name.endswith("-office") and not any(s in per_ward for s in senders):
                continue
            t = {k: sum(w[k] for w in ws) for k in ws[0]}
            n = t["n"]
            put("ballots_received", name, rc, n, ballots=n)
            put("ballot_completeness", name, rc, n, t["expected"], True, n)
            put("subject_score", name, rc, t["levels"], t["ratings"], True, n)
            put("subjects_flagged", name, rc, t["flagged"], ballots=n)
            put("remediation_on_time", name, rc, t["on_time"], t["flagged"], True, n)
            put("remediation_overdue", name, rc, t["overdue"], ballots=n)
            put("remediation_missing", name, rc, t["missing"], ballots=n)
            put("ward_reporting_timeliness", name, rc, t["timely"], t["wards"], True, n)

    # ---- rejected ballot events, by the day they arrived
    for name, senders in units.items():
        put("ballots_rejected", name, period,
            sum(1 for s in senders for d in rejected.get(s, []) if in_period(d, lo, hi)))

    # ---- petitions, a cohort by received_on
    pets = petitions(x, legacy)
    for name, senders in units.items():
        ps = [p for s in senders for p in pets.get(s, []) if in_period(p["received"], lo, hi)]
        in_states = {"accepted", "in_progress", "resolved"}
        if "withdrawn_in_jurisdiction" in legacy:
            in_states.add("withdrawn")
        if "received_in_jurisdiction" in legacy:
            in_states.add("received")
        juris = [p for p in ps if p["state"] in in_states and p["flag"]]
        res = [p for p in ps if p["state"] == "resolved"]
        prog = [p for p in juris if p["state"] not in ("resolved", "withdrawn")]
        opened = [p for p in ps if p["state"] in ("received", "accepted", "in_progress")]
        put("petitions_received", name, period, len(ps))
        put("petitions_in_jurisdiction", name, period, len(juris))
        put("petitions_resolved", name, period, len(res))
        put("petitions_in_progress", name, period, len(prog))
        put("petition_resolution_rate", name, period, len(res), len(juris), True)
        put("petition_on_time_rate", name, period,
            sum(1 for p in res if p["resolved_on"] <= p["resolve_due"]), len(res), True)
        put("petitions_overdue_open", name, period,
            sum(1 for p in opened
                if as_of > (p["resolve_due"] if p["accepted_on"] else p["accept_due"])))
        days = [(p["resolved_on"] - p["accepted_on"]).days for p in res]
        for code, q in (("petition_days_to_resolve_p50", Fraction(1, 2)),
                        ("petition_days_to_resolve_p90", Fraction(9, 10))):
            v = percentile_cont(days, q)
            put(code, name, period, v, value=v)
        ages = [(as_of - p["received"]).days for p in opened]
        put("petition_backlog_age_0_15", name, period, sum(1 for a in ages if a <= 15))
        put("petition_backlog_age_16_30", name, period, sum(1 for a in ages if 16 <= a <= 30))
        put("petition_backlog_age_31_45", name, period, sum(1 for a in ages if 31 <= a <= 45))
        put("petition_backlog_age_over_45", name, period, sum(1 for a in ages if a > 45))

    # ---- reception, a cohort by held_on
    sessions = {}
    for unit, files in x.files.items():
        for r in files["reception"]:
            sessions.setdefault(unit, {})[r["session"]] = r
    all_days = [day(r["held_on"]) for s in sessions.values() for r in s.values()]
    if lo is None:
        # docs/DESIGN.md §6 Reception: an unbounded period runs from the
        # first session recorded anywhere to the as-of day.
        wlo, whi = (min(all_days), as_of) if all_days else (None, None)
    else:
        wlo, whi = lo, hi
    weeks = set()
    if wlo is not None:
        d = wlo
        while d <= min(whi, as_of):
            weeks.add(monday(d))
            d += DAY
    for name, senders in units.items():
        ss = [r for s in senders for r in sessions.get(s, {}).values()
              if in_period(day(r["held_on"]), lo, hi)]
        citizens = sum(int(r["citizens"]) for r in ss)
        put("reception_sessions", name, period, len(ss))
        put("reception_citizens", name, period, citizens)
        put("citizens_per_session", name, period, citizens, len(ss), True)
        chair = 0
        for s in senders:
            chair += len({monday(day(r["held_on"])) for r in sessions.get(s, {}).values()
                          if r["host_role"] == "chair" and in_period(day(r["held_on"]), lo, hi)
                          and monday(day(r["held_on"])) in weeks})
        put("chair_reception_weeks", name, period, chair, len(weeks) * len(senders), True)

    # ---- inspections, by held_on (DESIGN §6, §7): the last row of a code
    # is the inspection; bodies and units distinct per sender, summed.
    insp = {}
    for unit, files in x.files.items():
        for r in files["inspections"]:
            insp.setdefault(unit, {})[r["inspection"]] = r
    for name, senders in units.items():
        held = {"party": 0, "planned": 0, "unannounced": 0}
        members = violations = teams = units_all = 0
        units_kind = {"party": 0, "planned": 0, "unannounced": 0}
        for s in senders:
            rs = [r for r in insp.get(s, {}).values()
                  if in_period(day(r["held_on"]), lo, hi)]
            for r in rs:
                held[r["kind"]] += 1
                violations += int(r["violations"])
                if r["kind"] == "party":
                    members += int(r["subjects"])
            teams += len({r["body"] for r in rs if r["kind"] != "party"})
            units_all += len({r["unit"] for r in rs})
            for k in units_kind:
                units_kind[k] += len({r["unit"] for r in rs if r["kind"] == k})
        put("inspections_held", name, period, sum(held.values()))
        for k in held:
            put("inspections_held_" + k, name, period, held[k])
            put("units_inspected_" + k, name, period, units_kind[k])
        put("inspection_teams", name, period, teams)
        put("units_inspected", name, period, units_all)
        put("party_members_inspected", name, period, members)
        put("inspection_violations", name, period, violations)

    # ---- job rotation (DESIGN §6): facts by effective_on; due on A
    def add_years(d, n):
        try:
            return d.replace(year=d.year + n)
        except ValueError:          # 29 February in a common year
            return d.replace(year=d.year + n, day=28)
    later = {"due": 0, "rotated": 1, "appointed": 2}
    facts = {}
    for unit, files in x.files.items():
        for r in files["rotations"]:
            key = (r["cadre"], r["post"], r["unit"], r["kind"], r["effective_on"])
            facts.setdefault(unit, {})[key] = r
    for name, senders in units.items():
        appointed = rotated = after = due = 0
        for s in senders:
            fs = list(facts.get(s, {}).values())
            for r in fs:
                if in_period(day(r["effective_on"]), lo, hi):
                    appointed += r["kind"] == "appointed"
                    rotated += r["kind"] == "rotated"
                    after += r["kind"] == "rotated" and int(r["years_in_post"]) >= 8
            latest = {}
            for r in fs:
                d = day(r["effective_on"])
                if d > as_of:
                    continue
                k = (d, later[r["kind"]])
                if r["cadre"] not in latest or k > latest[r["cadre"]][0]:
                    latest[r["cadre"]] = (k, r)
            for _, r in latest.values():
                start = add_years(day(r["effective_on"]), -int(r["years_in_post"]))
                if r["kind"] != "rotated" and add_years(start, 8) <= as_of:
                    due += 1
        put("cadres_appointed", name, period, appointed)
        put("cadres_rotated", name, period, rotated)
        put("cadres_due_rotation", name, period, due)
        put("rotation_compliance", name, period, after, after + due, True)

    # ---- sync lag: the stalest agent (DESIGN §7)
    if status is not None:
        now = now or dt.datetime.now(dt.timezone.utc)
        lag = {}
        for a in status.get("agents", []):
            if a.get("last_contact"):
                last = dt.datetime.fromisoformat(a["last_contact"].replace("Z", "+00:00"))
                s = int((now - last).total_seconds())
                lag[a["ward"]] = max(lag.get(a["ward"], 0), s)
        for name, senders in units.items():
            ls = [lag[s] for s in senders if s in lag]
            pick = min if "sync_lag_freshest" in legacy else max
            put("sync_lag", name, period, pick(ls) if ls else None)
            rows[("sync_lag", name, period)]["tolerance"] = 2
    return rows


# ------------------------------------------------------------ compare
def fmt(v):
    if v is None:
        return ""
    if isinstance(v, Fraction):
        if v.denominator == 1:
            return str(v.numerator)
        return str(Decimal(v.numerator) / Decimal(v.denominator))
    return str(v)


def places_of(code):
    """Decimals a value is published with (docs/contracts.md: ratios to
    3 decimals, days to 1)."""
    return 1 if code.startswith("petition_days_to_resolve") else 3


def rounded(v, places=6):
    if v is None:
        return None
    q = Decimal(1).scaleb(-places)
    return (Decimal(v.numerator) / Decimal(v.denominator)).quantize(q, ROUND_HALF_UP) \
        if isinstance(v, Fraction) else Decimal(v)


def num(text):
    return None if text == "" else Decimal(text)


def describe(cell):
    if cell is None:
        return "(no row)"
    parts = [fmt(cell["num"]), fmt(cell["den"]),
             str(rounded(cell["value"], cell["places"])) if cell["value"] is not None else ""]
    s = "%s/%s=%s" % tuple(parts) if cell["ratio"] else parts[2] if parts[2] else "(empty)"
    if cell.get("ballots") is not None:
        s += " (%d ballots)" % cell["ballots"]
    return s


def compare(hub_csv, mine, period, keys=None):
    """Differences between the hub's CSV and the recount, as lines
    "code org_unit period: hub=X recount=Y", each as (row key, line); and
    how many rows were compared. keys: compare only those rows."""
    hub = {}
    for r in csv.DictReader(hub_csv.splitlines()):
        hub[(r["code"], r["org_unit"], r["period"])] = r
    diffs = []
    n = 0
    for key in sorted(keys if keys is not None else set(hub) | set(mine)):
        h, m = hub.get(key), mine.get(key)
        n += 1
        head = "%s %s %s" % key
        if h is None:
            diffs.append((key, "%s: hub=(no row) recount=%s" % (head, describe(m))))
            continue
        shown = "%s/%s=%s" % (h["numerator"], h["denominator"], h["value"]) \
            if h["denominator"] or (m and m["ratio"]) else (h["value"] or "(empty)")
        if m is None:
            diffs.append((key, "%s: hub=%s recount=(no row)" % (head, shown)))
            continue
        suppressed = h["value"] == "<10"
        b = m.get("ballots")
        if suppressed:
            if b is None:
                diffs.append((key, "%s: hub=<10 recount=%s (not ballot-derived)" % (head, describe(m))))
            elif b >= SUPPRESS_BELOW or b == 0:
                pass        # complementary suppression / an empty cell: allowed
            continue
        if b is not None and 0 < b < SUPPRESS_BELOW:
            diffs.append((key, "%s: hub=%s recount=<10 (%d ballots: must be suppressed)"
                         % (head, shown, b)))
            continue
        tol = m.get("tolerance")
        if tol is not None:
            hv, mv = num(h["value"]), m["value"]
            if (hv is None) != (mv is None) or (hv is not None and abs(hv - mv) > tol):
                diffs.append((key, "%s: hub=%s recount=%s (seconds, +-%d)" % (head, shown, fmt(mv), tol)))
            continue
        ok = True
        if num(h["numerator"]) != (None if m["num"] is None else rounded(m["num"])):
            ok = False
        if m["ratio"] and num(h["denominator"]) != (None if m["den"] is None else Decimal(m["den"])):
            ok = False
        if not m["ratio"] and h["denominator"] != "":
            ok = False
        if num(h["value"]) != rounded(m["value"], m["places"]):
            ok = False
        if not ok:
            diffs.append((key, "%s: hub=%s recount=%s" % (head, shown, describe(m))))
    return diffs, n


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("data", help="folder of a generated district (gen.py --out)")
    ap.add_argument("--period", default="all")
    ap.add_argument("--as-of")
    ap.add_argument("--arrived-on", help="day the hub received the files (default today)")
    ap.add_argument("--hub-data", default=os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "..", "district-hub", "data"))
    a = ap.parse_args()
    x = load(a.data, a.hub_data)
    rows = compute(x, a.period, day(a.as_of) if a.as_of else None, None,
                   day(a.arrived_on) if a.arrived_on else None)
    w = csv.writer(sys.stdout, lineterminator="\n")
    w.writerow(["code", "org_unit", "period", "numerator", "denominator", "value"])
    for (code, unit, per), c in rows.items():
        w.writerow([code, unit, per, fmt(c["num"]), fmt(c["den"]) if c["ratio"] else "",
                    str(rounded(c["value"], c["places"])) if c["ratio"] and c["value"] is not None
                    else fmt(c["value"])])


if __name__ == "__main__":
    main()
