#!/usr/bin/env python3
"""Generates a small district as the CSV files its agents import.

Usage: gen.py --seed N --out DIR [--wards N]

Writes, in the formats of docs/contracts.md:
  DIR/rounds.csv                  for "district-hub round create --file"
  DIR/UNIT/ballots.csv            UNIT = LB01.. (wards) and LB (district office)
  DIR/UNIT/petitions.csv
  DIR/UNIT/reception.csv
  DIR/UNIT/remediation.csv
  DIR/plan.json                   the seed, the years, the rounds, and the
                                  periods and as-of days the driver checks

What the files are made to contain (tests/recount/README.md): petitions
reopened and resolved again, resolved exactly on the legal due date,
extended (within and beyond the rule's extension, and a due_on earlier
than the legal date), transferred, withdrawn, left open, rows out of
chronological order; remediation plans completed on the due date and sent
again unchanged, completed late, reopened and completed again, overdue,
missing; reception across ISO-week and year boundaries with the chair
absent some weeks; subjects with exactly 10, 9 and 0 ballots and level
shares exactly at the flag thresholds; three rounds; and a ballot the hub
rejects (its day lies outside its round).

Only the generator decides what is in the files; the recount (recount.py)
reads nothing but the files themselves.
"""

import argparse
import csv
import datetime as dt
import json
import os
import random
import sys

D = dt.date
DAY = dt.timedelta(days=1)

FORMS = {"leadership": 41, "staff": 36}
# Legal days (district-hub/data/petition_rules.csv): resolve, extension.
RESOLVE = {"complaint": (30, 15), "denunciation": (30, 30),
           "recommendation": (15, 0), "reflection": (15, 0)}
KINDS = list(RESOLVE)
CHANNELS = ["in_person", "post", "online", "transferred_in"]


def iso(d):
    return d.isoformat()


class District:
    def __init__(self, seed, n_wards):
        self.rng = random.Random(seed)
        self.seed = seed
        self.year = 2022 + seed % 3
        self.wards = ["LB%02d" % (i + 1) for i in range(n_wards)]
        self.units = self.wards + ["LB"]
        self.files = {u: {"ballots": [], "petitions": [], "reception": [],
                          "remediation": [], "inspections": [],
                          "rotations": []} for u in self.units}
        self.rounds = []
        self.round_rows = []
        self.flagged = []      # (round, ward, subject)
        self.last_day = D(self.year, 1, 1)

    def seen(self, d):
        if d > self.last_day:
            self.last_day = d

    # ------------------------------------------------------------ rounds
    def make_rounds(self):
        y = self.year
        specs = [("%d-R1" % y, D(y, 10, 2), D(y, 10, 20)),
                 ("%d-R2" % (y + 1), D(y + 1, 3, 4), D(y + 1, 3, 22)),
                 # across a month and a quarter boundary
                 ("%d-R3" % (y + 1), D(y + 1, 6, 24), D(y + 1, 7, 5))]
        for n, (code, opens, closes) in enumerate(specs):
            covered = list(self.wards)
            if n == 2 and len(covered) > 2:
                covered = covered[:-1]          # one ward sits R3 out
            self.rounds.append({"code": code, "opens": iso(opens),
                                "closes": iso(closes), "wards": covered})
            self.round_rows.append(["round", code, iso(opens), iso(closes),
                                    "Đợt %d, \"thử\"" % (n + 1)])
            self.round_rows.append(["form", code, "leadership", "leadership", ""])
            self.round_rows.append(["form", code, "staff", "staff", ""])
            for w_i, w in enumerate(covered):
                subjects = self.ward_subjects(code, w, w_i, n)
                total = sum(c for _, _, c in subjects)
                expected = max(1, total + self.rng.choice([-2, 0, 0, 3, 12]))
                self.round_rows.append(["ward", code, w, str(expected), ""])
                for s, cat, count in subjects:
                    self.round_rows.append(["subject", code, w, s, cat])
                    self.ballots(code, opens, closes, w, s, cat, count)
            self.rejected_ballot(code, opens, covered[0])

    def ward_subjects(self, code, ward, w_i, n):
        """Subjects of one ward in one round, with how many ballots each."""
        rng = self.rng
        k = rng.randint(2, 4)
        subjects = []
        for j in range(k):
            s = "%s-S%02d" % (ward, j + 1 + 4 * n)
            cat = "leadership" if j % 2 == 0 else "staff"
            subjects.append([s, cat, rng.choice([0, 9, 10, 10, 11, 20, 3, 14])])
        # The ward totals the publication rule turns on: a ward with
        # exactly 9 ballots (only one subject rated), one with exactly 10.
        if w_i == 0 and n == 1:
            subjects[0][2] = 9
            for s in subjects[1:]:
                s[2] = 0
        if w_i == 1 and n == 1:
            subjects[0][2] = 10
            for s in subjects[1:]:
                s[2] = 0
        return [tuple(s) for s in subjects]

    def ballots(self, code, opens, closes, ward, subject, cat, count):
        rng = self.rng
        if count == 0:
            return
        items = FORMS[cat]
        # Patterns of the flag rule (DESIGN §6: level 3 share >= 0.30 or
        # level 2+3 share >= 0.50 on any item, with >= 10 ballots).
        pattern = rng.choice(["low", "l3_exact", "l3_below", "l23_exact",
                              "l23_below", "random"])
        levels = [[1] * items for _ in range(count)]
        item = rng.randrange(items)
        if pattern == "l3_exact" or pattern == "l3_below":
            n3 = (3 * count + 9) // 10   # smallest n3 with n3/count >= 0.30
            if pattern == "l3_below":
                n3 -= 1
            for b in range(n3):
                levels[b][item] = 3
        elif pattern == "l23_exact" or pattern == "l23_below":
            n23 = (count + 1) // 2       # smallest with n23/count >= 0.50
            if pattern == "l23_below":
                n23 -= 1
            for b in range(n23):
                levels[b][item] = 2 if b % 3 else 3
            # keep the level 3 share under 0.30
            while sum(1 for b in range(count) if levels[b][item] == 3) * 10 >= 3 * count:
                for b in range(count):
                    if levels[b][item] == 3:
                        levels[b][item] = 2
                        break
        elif pattern == "random":
            for b in range(count):
                for i in range(items):
                    r = rng.random()
                    levels[b][i] = 3 if r < 0.08 else 2 if r < 0.25 else 1
        # a little noise on other items that never reaches a threshold
        if pattern != "random" and count >= 5:
            other = (item + 1) % items
            levels[0][other] = 2
        flag = count >= 10 and any(
            10 * sum(1 for b in range(count) if levels[b][i] == 3) >= 3 * count or
            2 * sum(1 for b in range(count) if levels[b][i] >= 2) >= count
            for i in range(items))
        if flag:
            self.flagged.append((code, ward, subject, closes))
        span = (closes - opens).days
        for b in range(count):
            day = opens + DAY * rng.randint(0, span)
            self.seen(day)
            row = [code, cat, subject, str(rng.randint(1, 4)), iso(day)]
            row += [str(v) for v in levels[b]] + [""] * (41 - items)
            self.files[ward]["ballots"].append(row)

    def rejected_ballot(self, code, opens, ward):
        """One ballot dated before its round opens: the hub rejects it."""
        subject_rows = [r for r in self.round_rows
                        if r[0] == "subject" and r[1] == code and r[2] == ward]
        s, cat = subject_rows[0][3], subject_rows[0][4]
        row = [code, cat, s, "2", iso(opens - 3 * DAY)]
        row += ["1"] * FORMS[cat] + [""] * (41 - FORMS[cat])
        self.files[ward]["ballots"].append(row)

    # ------------------------------------------------------------ remediation
    def remediation(self):
        rng = self.rng
        cases = ["on_due_resent", "late", "early", "reopened", "overdue",
                 "open_future", "missing", "missing"]
        for n, (code, ward, subject, closes) in enumerate(self.flagged):
            case = cases[n % len(cases)] if n < len(cases) else rng.choice(cases)
            due = closes + DAY * rng.randint(40, 70)
            if case == "open_future":
                due = closes + DAY * 400
            rows = []
            req = closes + DAY * rng.randint(3, 8)
            rows.append(("required", due, req))
            sub = req + DAY * rng.randint(5, 20)
            rows.append(("submitted", due, sub))
            if case == "on_due_resent":
                rows.append(("completed", due, due))
                rows.append(("completed", due, due + 5 * DAY))
            elif case == "late":
                rows.append(("completed", due, due + DAY * rng.randint(1, 9)))
            elif case == "early":
                rows.append(("completed", due, due - DAY * rng.randint(1, 9)))
            elif case == "reopened":
                first = due - 6 * DAY
                rows.append(("completed", due, first))
                rows.append(("submitted", due, first + 2 * DAY))
                rows.append(("completed", due, due + 3 * DAY))
            elif case == "missing":
                rows = []
            for status, d_due, changed in rows:
                self.seen(changed)
                self.files[ward]["remediation"].append(
                    [code, subject, status, iso(d_due), iso(changed)])
        # a plan for a subject that is not flagged (ignored by the indicators)
        for r in self.round_rows:
            if r[0] == "subject" and (r[1], r[2], r[3]) not in {
                    (c, w, s) for c, w, s, _ in self.flagged}:
                close = D.fromisoformat(next(x["closes"] for x in self.rounds
                                             if x["code"] == r[1]))
                self.files[r[2]]["remediation"].append(
                    [r[1], r[3], "required", iso(close + 60 * DAY),
                     iso(close + 4 * DAY)])
                break
        for u in self.units:
            self.shuffle_some(self.files[u]["remediation"])

    # ------------------------------------------------------------ petitions
    def petitions(self):
        rng = self.rng
        y = self.year
        cases = ["on_due", "early", "late", "reopened_late", "extended",
                 "extended_beyond", "due_earlier", "transferred", "withdrawn",
                 "open_received", "open_accepted", "open_in_progress",
                 "reopened_open", "late_accept"]
        for u in self.units:
            n = rng.randint(8, 16)
            rows = []
            for i in range(n):
                code = "%s-%d-%03d" % (u, y, i + 1)
                case = cases[(i + self.units.index(u)) % len(cases)] if i < len(cases) \
                    else rng.choice(cases)
                kind = rng.choice(KINDS)
                if case in ("extended", "extended_beyond"):
                    kind = rng.choice(["complaint", "denunciation"])
                received = D(y, 9, 1) + DAY * rng.randint(0, 300)
                rows += self.petition(code, kind, case, received)
            self.shuffle_some(rows)
            self.files[u]["petitions"] = rows

    def petition(self, code, kind, case, received):
        rng = self.rng
        channel = rng.choice(CHANNELS)
        resolve_days, ext = RESOLVE[kind]
        note = rng.choice(["", "Đơn \"khẩn\", nhiều trang", "dòng 1\ndòng 2",
                           "có dấu phẩy, ở giữa"])

        def row(status, juris, due, changed):
            self.seen(changed)
            return [code, kind, channel, status, juris, iso(received),
                    iso(due) if due else "", iso(changed), note]

        if case == "transferred":
            return [row("received", "no", None, received),
                    row("transferred", "no", None, received + DAY * rng.randint(1, 8))]
        out = [row("received", "yes", None, received)]
        if case == "open_received":
            return out
        acc = received + DAY * (rng.randint(12, 20) if case == "late_accept"
                                else rng.randint(1, 10))
        legal = acc + DAY * resolve_days
        due = legal
        if case == "extended":
            due = legal + DAY * ext
        elif case == "extended_beyond":
            due = legal + DAY * (ext + 10)
        elif case == "due_earlier":
            due = legal - 5 * DAY
        out.append(row("accepted", "yes", legal, acc))
        if case == "open_accepted":
            return out
        prog = acc + DAY * rng.randint(1, 4)
        # the extension is recorded when work starts
        out.append(row("in_progress", "yes", due, prog))
        if case in ("open_in_progress", "late_accept") and rng.random() < 0.5:
            return out
        if case == "withdrawn":
            out.append(row("withdrawn", "yes", due, prog + DAY * rng.randint(1, 5)))
            return out
        legal_due = legal + DAY * min(max((due - legal).days, 0), ext)
        if case == "on_due":
            res = legal_due
        elif case == "late":
            res = legal_due + DAY * rng.randint(1, 12)
        elif case == "extended":
            res = legal_due - DAY * rng.randint(0, 3)
        elif case == "extended_beyond":
            res = legal_due + DAY * rng.randint(1, 8)   # late: the extension is capped
        elif case == "due_earlier":
            res = legal_due - DAY * 2                   # on time, after the typed date
        elif case in ("reopened_late", "reopened_open"):
            res = legal_due - DAY * rng.randint(5, 10)
        else:
            res = min(legal_due, prog + DAY * rng.randint(1, 15))
        if res <= prog:
            res = prog + DAY
        out.append(row("resolved", "yes", due, res))
        if case == "reopened_late":
            out.append(row("in_progress", "yes", due, res + 3 * DAY))
            out.append(row("resolved", "yes", due, legal_due + DAY * rng.randint(2, 9)))
        elif case == "reopened_open":
            out.append(row("in_progress", "yes", due, res + 2 * DAY))
        return out

    # ------------------------------------------------------------ reception
    def reception(self):
        rng = self.rng
        y = self.year
        start = D(y, 11, 14) - DAY * D(y, 11, 14).weekday()   # a Monday
        for u in self.units:
            rows = []
            week = start
            n = 0
            # 20 weeks across the new year, plus a few sessions in spring
            for w in range(20):
                chair = rng.random() < 0.7
                for _ in range(rng.randint(0, 2) + (1 if chair else 0)):
                    day = week + DAY * rng.randint(0, 6)
                    role = "chair" if chair and not any(
                        r[1] >= iso(week) and r[1] <= iso(week + 6 * DAY) and r[2] == "chair"
                        for r in rows) else rng.choice(["vice_chair", "officer"])
                    n += 1
                    citizens = rng.randint(0, 7)
                    rows.append(["%s-TCD-%03d" % (u, n), iso(day), role,
                                 rng.choice(["regular", "ad_hoc"]), str(citizens),
                                 str(rng.randint(0, citizens))])
                    self.seen(day)
                week += 7 * DAY
            for _ in range(rng.randint(1, 4)):
                day = D(y + 1, 4, 1) + DAY * rng.randint(0, 80)
                n += 1
                rows.append(["%s-TCD-%03d" % (u, n), iso(day),
                             rng.choice(["chair", "officer"]), "regular",
                             str(rng.randint(1, 5)), "0"])
                self.seen(day)
            self.shuffle_some(rows)
            self.files[u]["reception"] = rows

    def registers(self):
        """The district office's inspections and rotation register
        (docs/DESIGN.md §6): every kind, a unit inspected twice, a team
        that inspects planned and unannounced, a correction of an
        inspection, one held on the year's last day; an appointment exactly
        8 years before the year's last day and one a day later, a rotation
        on the year's last day, roster lines at 7 and 9 years, a rotation
        after 5 years, a leap-day appointment."""
        rng = self.rng
        y = self.year
        rows = []
        n = 0
        for kind, body, units in (
                ("party", "UBKT", ["CB-%s-1" % w for w in self.wards[:2]]),
                ("planned", "KTCV-1", ["LB-VP", "LB-NV"]),
                ("planned", "KTCV-2", ["%s-DU" % w for w in self.wards]),
                ("unannounced", "KTCV-2", ["%s-UBND" % w for w in self.wards]
                 + ["%s-UBND" % self.wards[0]])):
            for u in units:
                n += 1
                d = D(y, 1, 1) + DAY * rng.randint(0, 364)
                rows.append(["KT-%03d" % n, body, u, iso(d), kind,
                             str(rng.randint(0, 5)), str(rng.randint(0, 2)),
                             rng.choice(["", "kết luận, đã báo cáo", "không vi phạm"])])
                self.seen(d)
        rows.append(["KT-%03d" % (n + 1), "KTCV-3", "LB-TP", iso(D(y, 12, 31)),
                     "unannounced", "2", "1", ""])
        # A correction: the same code and day, other findings.
        fixed = list(rows[0])
        fixed[6] = str(int(fixed[6]) + 1)
        fixed[7] = "sửa kết luận"
        rows.append(fixed)
        self.files["LB"]["inspections"] = rows
        end = D(y, 12, 31)
        rot = [
            ["C-01", "chair", self.wards[0], "0", iso(D(y - 8, 12, 31)), "appointed"],
            ["C-02", "chair", self.wards[1], "0", iso(D(y - 7, 1, 1)), "appointed"],
            ["C-03", "vice_chair", self.wards[0], "0", iso(D(y - 9, 6, 1)), "appointed"],
            ["C-03", "vice_chair", self.wards[0], "8", iso(end), "rotated"],
            ["C-04", "cadastral", self.wards[1], "7", iso(D(y, 6, 30)), "due"],
            ["C-05", "cadastral", self.wards[-1], "9", iso(D(y, 1, 15)), "due"],
            ["C-06", "chair", "LB", "5", iso(D(y, 3, 1)), "rotated"],
            ["C-07", "chair", self.wards[-1], "0", iso(D(y, 5, 1)), "appointed"],
            ["C-08", "justice", self.wards[0], "0", iso(D(2016, 2, 29)), "appointed"],
            ["C-09", "chair", self.wards[1], "11", iso(D(y, 9, 9)), "rotated"],
            ["C-09", "office_chief", "LB", "0", iso(D(y, 9, 9)), "appointed"],
        ]
        self.files["LB"]["rotations"] = rot
        self.seen(end)

    def shuffle_some(self, rows):
        """Out of chronological order: swap a few rows."""
        for _ in range(len(rows) // 3):
            a, b = self.rng.randrange(len(rows)), self.rng.randrange(len(rows))
            rows[a], rows[b] = rows[b], rows[a]

    # ------------------------------------------------------------ output
    def write(self, out):
        headers = {
            "ballots": ["survey", "form", "subject", "respondent_group",
                        "collected_on"] + ["i%02d" % i for i in range(1, 42)],
            "petitions": ["petition", "kind", "channel", "status",
                          "in_jurisdiction", "received_on", "due_on",
                          "changed_on", "note"],
            "reception": ["session", "held_on", "host_role", "mode",
                          "citizens", "petitions"],
            "remediation": ["survey", "subject", "status", "due_on",
                            "changed_on"],
            "inspections": ["inspection", "body", "unit", "held_on", "kind",
                            "subjects", "violations", "note"],
            "rotations": ["cadre", "post", "unit", "years_in_post",
                          "effective_on", "kind"],
        }
        os.makedirs(out, exist_ok=True)
        with open(os.path.join(out, "rounds.csv"), "w", newline="",
                  encoding="utf-8") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(["record", "round", "a", "b", "c"])
            w.writerows(self.round_rows)
        for u in self.units:
            os.makedirs(os.path.join(out, u), exist_ok=True)
            for kind, rows in self.files[u].items():
                if not rows:
                    continue
                with open(os.path.join(out, u, kind + ".csv"), "w", newline="",
                          encoding="utf-8") as f:
                    w = csv.writer(f, lineterminator="\r\n" if kind == "petitions" else "\n")
                    w.writerow(headers[kind])
                    w.writerows(rows)
        y = self.year
        as_of = [self.last_day + 3 * DAY, self.last_day + 50 * DAY]
        plan = {
            "seed": self.seed, "year": y, "units": self.units,
            "rounds": [r["code"] for r in self.rounds],
            "periods": ["all", str(y), str(y + 1), "%d-Q4" % y, "%d-Q1" % (y + 1),
                        "%d-12" % y, "%d-01" % (y + 1), "%d-03" % (y + 1),
                        "%d-07" % (y + 1), "%d-12-20..%d-01-10" % (y, y + 1)],
            "as_of": [iso(d) for d in as_of],
        }
        with open(os.path.join(out, "plan.json"), "w") as f:
            json.dump(plan, f, indent=1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--wards", type=int, default=0,
                    help="wards LB01..LBnn (default: 3 to 5, from the seed)")
    a = ap.parse_args()
    n = a.wards or 3 + a.seed % 3
    if not 2 <= n <= 14:
        sys.exit("gen: --wards must be 2..14, not %d" % n)
    d = District(a.seed, n)
    d.make_rounds()
    d.remediation()
    d.petitions()
    d.reception()
    d.registers()
    d.write(a.out)


if __name__ == "__main__":
    main()
