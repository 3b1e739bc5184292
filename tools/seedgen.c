/*
 * seedgen - writes the Long Biên seed data set: one folder per org unit
 * (LB01 ... LB14 and the district office LB), each holding the CSV files a
 * clerk would drop into that unit's ward-agent inbox (docs/contracts.md).
 *
 * The district totals are those of DESIGN §1 and must come out exactly:
 * 1,022 ballots on 90 subjects of which 22 meet the default flag rule,
 * 204 petitions in jurisdiction (152 resolved, 52 in progress) plus 31
 * transferred, 167 reception sessions with 537 citizens; and the district
 * office's inspections and rotations (3 party inspections of 3 party
 * organisations and 3 members, 2 public-service teams, unannounced
 * inspections of the 14 ward people's committees, no violation, 18 cadres
 * appointed or moved, 30 leaders rotated after 8 or more years). The dates
 * are those of the district's report (struct calendar): petitions,
 * reception, inspections and rotations from 7 Aug 2023 to 31 May 2024, the
 * survey round 2-20 Oct 2023, the 22 remediation plans due 31 Aug 2024 (17
 * completed on time, 2 late, 2 submitted and never completed, 1 never
 * submitted). Everything else (which ward gets how many, which subject is
 * flagged, the days within the calendar, notes) is drawn from a small PRNG
 * so that one seed always gives the same files.
 *
 * After writing, the program reads its own files back with an independent
 * CSV reader, recounts everything, re-applies the flag rule, prints what
 * depends on the day as the report judges it on the period's last day and
 * once every plan's outcome is known (the "as of" lines scripts/demo.sh
 * checks the hub against), and exits non-zero when any total is off. It
 * depends on libc only.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#define EXIT_VERIFY 1
#define EXIT_USAGE 2
#define EXIT_IO 3

/* District totals (DESIGN §1, §7). */
#define N_WARDS 14
#define N_UNITS (N_WARDS + 1) /* the wards and the district office */
#define DISTRICT_UNIT N_WARDS
#define N_SUBJECTS 90
#define N_FLAGGED 22
#define N_BALLOTS 1022
#define N_RESOLVED 152
#define N_IN_PROGRESS 52
#define N_IN_JURISDICTION (N_RESOLVED + N_IN_PROGRESS)
#define N_TRANSFERRED 31
#define N_PETITIONS (N_IN_JURISDICTION + N_TRANSFERRED)
#define N_SESSIONS 167
#define N_CITIZENS 537
/* Remediation outcomes of the 22 flagged subjects, once settled. */
#define N_REM_ON_TIME 17
#define N_REM_LATE 2
#define N_REM_SUBMITTED 2 /* submitted, never completed */
#define N_REM_NEVER 1     /* required, never submitted */
_Static_assert(N_REM_ON_TIME + N_REM_LATE + N_REM_SUBMITTED + N_REM_NEVER ==
                   N_FLAGGED,
               "every flagged subject has one outcome");

/* Default flag rule (DESIGN §6), as integer comparisons:
 * share3 >= 0.30  <=>  10 * c3 >= 3 * n;  share23 >= 0.50  <=>  2 * c23 >= n */
#define MIN_BALLOTS 10
#define MAX_BALLOTS 16
#define MAX_ITEMS 41
#define N_GROUPS 4

#define SURVEY "2023-R1"
#define MAX_PETITIONS_PER_UNIT N_PETITIONS
#define MAX_SESSIONS_PER_UNIT 13 /* and at least 10 */
#define MAX_WEEKS 60             /* ISO weeks in the period, at most */
#define MAX_FIELDS 64

/* ---------------------------------------------------------------- PRNG */

/* splitmix64: tiny, fast, and every seed (including 0) gives a good
 * stream; enough for test data, not for anything secret. */
struct rng {
    uint64_t state;
};

static uint64_t rng_next(struct rng *r)
{
    uint64_t z = (r->state += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

/* Uniform integer in [lo, hi], without modulo bias. */
static int rng_range(struct rng *r, int lo, int hi)
{
    uint64_t span = (uint64_t)(hi - lo) + 1;
    uint64_t limit = UINT64_MAX - UINT64_MAX % span;
    uint64_t x;
    do {
        x = rng_next(r);
    } while (x >= limit);
    return lo + (int)(x % span);
}

static bool rng_percent(struct rng *r, int percent)
{
    return rng_range(r, 0, 99) < percent;
}

static void shuffle_ints(struct rng *r, int *a, int n)
{
    for (int i = n - 1; i > 0; i--) {
        int j = rng_range(r, 0, i);
        int t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
}

/* ---------------------------------------------------------------- dates */

/* A date is a day number counted from 1970-01-01. */
static bool is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30,
                                 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

static int date_to_day(int y, int m, int d)
{
    int n = 0;
    for (int yy = 1970; yy < y; yy++)
        n += is_leap(yy) ? 366 : 365;
    for (int mm = 1; mm < m; mm++)
        n += days_in_month(y, mm);
    return n + d - 1;
}

static void day_to_ymd(int day, int *y, int *m, int *d)
{
    *y = 1970;
    *m = 1;
    while (day >= (is_leap(*y) ? 366 : 365)) {
        day -= is_leap(*y) ? 366 : 365;
        (*y)++;
    }
    while (day >= days_in_month(*y, *m)) {
        day -= days_in_month(*y, *m);
        (*m)++;
    }
    *d = day + 1;
}

static void day_to_text(int day, char out[11])
{
    int y, m, d;
    day_to_ymd(day, &y, &m, &d);
    snprintf(out, 11, "%04u-%02u-%02u", (unsigned)y % 10000u,
             (unsigned)m % 100u, (unsigned)d % 100u);
}

static int day_year(int day)
{
    int y, m, d;
    day_to_ymd(day, &y, &m, &d);
    return y;
}

/* Parses "YYYY-MM-DD" strictly; returns the day number or -1. */
static int text_to_day(const char *s)
{
    int y, m, d;
    char tail;
    if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
        return -1;
    if (sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3)
        return -1;
    if (y < 1970 || m < 1 || m > 12 || d < 1 || d > days_in_month(y, m))
        return -1;
    return date_to_day(y, m, d);
}

/* ---------------------------------------------------------------- units */

static const char *const unit_codes[N_UNITS] = {
    "LB01", "LB02", "LB03", "LB04", "LB05", "LB06", "LB07", "LB08",
    "LB09", "LB10", "LB11", "LB12", "LB13", "LB14", "LB"};

static const char *const unit_names[N_UNITS] = {
    "Bồ Đề",        "Cự Khối",   "Đức Giang",          "Gia Thụy",
    "Giang Biên",   "Long Biên", "Ngọc Lâm",           "Ngọc Thụy",
    "Phúc Đồng",    "Phúc Lợi",  "Sài Đồng",           "Thạch Bàn",
    "Thượng Thanh", "Việt Hưng", "UBND quận Long Biên"};

/* ------------------------------------------------------------- ballots */

enum form { FORM_LEADERSHIP, FORM_STAFF };
static const char *const form_names[] = {"leadership", "staff"};
static const int form_items[] = {41, 36};

enum flag_mode { FLAG_NONE, FLAG_LEVEL3, FLAG_LEVEL23 };

struct subject {
    char code[16];
    int unit;
    enum form form;
    const char *role;
    int n_ballots;
    enum flag_mode flag;
    uint8_t levels[MAX_BALLOTS][MAX_ITEMS];
    uint8_t group[MAX_BALLOTS];
    int collected_on[MAX_BALLOTS];
};

/* Positions in a ward: the first three hold leadership posts. */
static const char *const subject_roles[] = {
    "chair",     "vice chair",   "vice chair",   "one-stop shop",
    "cadastral", "construction", "one-stop shop"};

/* ----------------------------------------------------------- petitions */

enum petition_status {
    ST_RECEIVED,
    ST_ACCEPTED,
    ST_TRANSFERRED,
    ST_IN_PROGRESS,
    ST_RESOLVED,
    ST_WITHDRAWN,
    ST_COUNT
};
static const char *const status_names[ST_COUNT] = {"received",    "accepted",
                                                   "transferred", "in_progress",
                                                   "resolved",    "withdrawn"};

enum petition_fate { FATE_RESOLVED, FATE_IN_PROGRESS, FATE_TRANSFERRED };

static const char *const kind_names[] = {"complaint", "denunciation",
                                         "recommendation", "reflection"};
static const char *const channel_names[] = {"in_person", "post", "online",
                                            "transferred_in"};

struct petition {
    char code[24];
    int unit;
    enum petition_fate fate;
    int kind;
    int channel;
    int day[ST_COUNT]; /* day of each status reached, -1 when never */
    int due_on;        /* -1 until accepted */
    int note;          /* template index */
    int note_a, note_b;
};

struct petition_event {
    int petition;
    enum petition_status status;
    int day;
};

/* ----------------------------------------------------------- reception */

static const char *const host_names[] = {"chair", "vice_chair", "officer"};
static const char *const mode_names[] = {"regular", "ad_hoc"};

struct session {
    char code[24];
    int unit;
    int day;
    int host;
    int mode;
    int citizens;
    int petitions;
};

/* --------------------------------------------------------- remediation */

static const char *const remediation_names[] = {"required", "submitted",
                                                "completed"};

struct remediation_row {
    int subject;
    int status;
    int due_on;
    int day;
};

/* ----------------------------------------------------------- the world */

struct seed {
    struct subject subjects[N_SUBJECTS];
    int n_subjects;
    struct petition petitions[N_PETITIONS];
    struct petition_event events[N_PETITIONS * 4];
    int n_events;
    struct session sessions[N_SESSIONS];
    struct remediation_row remediation[N_FLAGGED * 3];
    int n_remediation;
};

/* The dates of the district's report (docs/DESIGN.md §1), the only dates
 * in this program: every other day is drawn or derived from these.
 *   round_open, round_close  the survey round, where the district held it
 *                            (ballots' collected_on);
 *   period_start, period_end the report's period for petitions, reception,
 *                            inspections and rotations, inclusive: from
 *                            Directive 24 (7 Aug 2023) to 31 May 2024;
 *                            the report judges open petitions on its last
 *                            day (the demo's --as-of);
 *   remediation_due          the due date of all 22 remediation plans;
 *   settled                  a day by which every plan's outcome is known
 *                            (late completions come before it). */
struct calendar {
    int round_open, round_close;
    int period_start, period_end;
    int remediation_due;
    int settled;
};

/* Days after its due date by which a late plan is completed (at most). */
#define LATE_DAYS_MAX 10

static struct calendar calendar_default(void)
{
    struct calendar c = {
        .round_open = date_to_day(2023, 10, 2),
        .round_close = date_to_day(2023, 10, 20),
        .period_start = date_to_day(2023, 8, 7),
        .period_end = date_to_day(2024, 5, 31),
        .remediation_due = date_to_day(2024, 8, 31),
    };
    c.settled = c.remediation_due + 3 * LATE_DAYS_MAX;
    return c;
}

/* The Monday of the ISO week of a day (1970-01-01 was a Thursday). */
static int week_monday(int day)
{
    return day - (day + 3) % 7;
}

/* ISO weeks (Monday first) the period touches, its first and last week
 * included: what chair_reception_weeks divides by for each unit. */
static int period_weeks(const struct calendar *cal)
{
    return (week_monday(cal->period_end) - week_monday(cal->period_start)) / 7 +
           1;
}

/* Number of ballots of one subject answering an item at level 2 or 3
 * (c23) and at level 3 (c3) for a subject that must stay clearly clear:
 * share23 <= 0.40 and share3 <= 0.20, far from 0.50 and 0.30. */
static void clean_item_counts(struct rng *r, int n, int base_percent, int *c23,
                              int *c3)
{
    int cap23 = 2 * n / 5, cap3 = n / 5;
    int k = 0;
    for (int b = 0; b < n; b++)
        k += rng_percent(r, base_percent);
    if (k > cap23)
        k = cap23;
    int k3 = 0;
    for (int b = 0; b < k; b++)
        k3 += rng_percent(r, 30);
    if (k3 > cap3)
        k3 = cap3;
    *c23 = k;
    *c3 = k3;
}

/* Writes the levels of one item: c3 ballots at 3, c23 - c3 at 2, the rest
 * at 1, on ballots chosen at random. */
static void place_levels(struct rng *r, struct subject *s, int item, int c23,
                         int c3)
{
    int order[MAX_BALLOTS];
    for (int b = 0; b < s->n_ballots; b++)
        order[b] = b;
    shuffle_ints(r, order, s->n_ballots);
    for (int k = 0; k < s->n_ballots; k++)
        s->levels[order[k]][item] = k < c3 ? 3 : k < c23 ? 2 : 1;
}

static void make_subjects(struct seed *w, struct rng *r,
                          const struct calendar *cal)
{
    /* 90 subjects over 14 wards: 6 wards have 7 subjects, 8 have 6. */
    int per_ward[N_WARDS];
    int wards[N_WARDS];
    for (int i = 0; i < N_WARDS; i++) {
        per_ward[i] = 6;
        wards[i] = i;
    }
    shuffle_ints(r, wards, N_WARDS);
    for (int i = 0; i < N_SUBJECTS - 6 * N_WARDS; i++)
        per_ward[wards[i]] = 7;

    w->n_subjects = 0;
    for (int u = 0; u < N_WARDS; u++) {
        for (int k = 0; k < per_ward[u]; k++) {
            struct subject *s = &w->subjects[w->n_subjects++];
            snprintf(s->code, sizeof s->code, "%s-S%02d", unit_codes[u], k + 1);
            s->unit = u;
            s->form = k < 3 ? FORM_LEADERSHIP : FORM_STAFF;
            s->role = subject_roles[k];
            s->n_ballots = MIN_BALLOTS;
            s->flag = FLAG_NONE;
        }
    }

    /* Ballots: 10 each, the rest spread at random (at most 16 each). */
    for (int extra = N_BALLOTS - MIN_BALLOTS * N_SUBJECTS; extra > 0;) {
        struct subject *s = &w->subjects[rng_range(r, 0, N_SUBJECTS - 1)];
        if (s->n_ballots < MAX_BALLOTS) {
            s->n_ballots++;
            extra--;
        }
    }

    /* Flagged subjects: 22 chosen at random, half through the level-3
     * share and half through the level-2-or-3 share. */
    int pick[N_SUBJECTS];
    for (int i = 0; i < N_SUBJECTS; i++)
        pick[i] = i;
    shuffle_ints(r, pick, N_SUBJECTS);
    for (int i = 0; i < N_FLAGGED; i++)
        w->subjects[pick[i]].flag = i % 2 ? FLAG_LEVEL23 : FLAG_LEVEL3;

    for (int i = 0; i < N_SUBJECTS; i++) {
        struct subject *s = &w->subjects[i];
        int n = s->n_ballots, items = form_items[s->form];
        /* Every subject hears from all four groups. */
        for (int b = 0; b < n; b++)
            s->group[b] =
                (uint8_t)(b < N_GROUPS ? b + 1 : rng_range(r, 1, N_GROUPS));
        for (int b = 0; b < n; b++)
            s->collected_on[b] =
                rng_range(r, cal->round_open, cal->round_close);
        int base = rng_range(r, 3, 15);
        for (int item = 0; item < items; item++) {
            int c23, c3;
            clean_item_counts(r, n, base, &c23, &c3);
            place_levels(r, s, item, c23, c3);
        }
        for (int item = items; item < MAX_ITEMS; item++)
            for (int b = 0; b < n; b++)
                s->levels[b][item] = 0;
        if (s->flag == FLAG_NONE)
            continue;
        /* One to three problem items, each clearly over a threshold:
         * share3 >= 0.40 or share23 >= 0.60. */
        int n_problems = rng_range(r, 1, 3);
        int items_order[MAX_ITEMS];
        for (int k = 0; k < items; k++)
            items_order[k] = k;
        shuffle_ints(r, items_order, items);
        for (int p = 0; p < n_problems; p++) {
            int c23, c3;
            if (s->flag == FLAG_LEVEL3) {
                c3 = (4 * n + 9) / 10 + rng_range(r, 0, 1);
                c23 = c3 + rng_range(r, 0, 2);
            } else {
                c23 = (6 * n + 9) / 10 + rng_range(r, 0, 1);
                c3 = rng_range(r, 0, n / 5);
            }
            if (c23 > n)
                c23 = n;
            if (c3 > c23)
                c3 = c23;
            place_levels(r, s, items_order[p], c23, c3);
        }
    }
}

static void make_remediation(struct seed *w, struct rng *r,
                             const struct calendar *cal)
{
    int flagged[N_FLAGGED], n = 0;
    for (int i = 0; i < w->n_subjects; i++)
        if (w->subjects[i].flag != FLAG_NONE)
            flagged[n++] = i;
    shuffle_ints(r, flagged, n);
    /* Outcomes once settled: 17 completed on time, 2 completed late, 2
     * submitted but not completed and 1 never submitted (both overdue
     * after the due date). The plans are required a week after the round
     * closes and submitted within three weeks; on-time completions fall
     * between a week after submission and the due date, so that on the
     * report's last day some are completed and none is overdue yet. */
    w->n_remediation = 0;
    int required_on = cal->round_close + 7;
    for (int k = 0; k < n; k++) {
        int due = cal->remediation_due;
        struct remediation_row *row = &w->remediation[w->n_remediation++];
        *row = (struct remediation_row){flagged[k], 0, due, required_on};
        if (k == N_REM_ON_TIME + N_REM_LATE + N_REM_SUBMITTED)
            continue;
        int submitted_on = required_on + rng_range(r, 5, 20);
        row = &w->remediation[w->n_remediation++];
        *row = (struct remediation_row){flagged[k], 1, due, submitted_on};
        if (k >= N_REM_ON_TIME + N_REM_LATE)
            continue;
        int completed_on = k < N_REM_ON_TIME
                               ? rng_range(r, submitted_on + 7, due)
                               : due + rng_range(r, 2, LATE_DAYS_MAX);
        row = &w->remediation[w->n_remediation++];
        *row = (struct remediation_row){flagged[k], 2, due, completed_on};
    }
}

/* The legal deadlines of each kind (docs/DESIGN.md §6, as
 * district-hub/data/petition_rules.csv holds them): days to accept from
 * receipt, days to resolve from acceptance (complaints and denunciations
 * 30; recommendations and reflections answered within 15), and the
 * extension a typed due_on may add (complaints 15, denunciations 30). */
static const struct {
    int accept, resolve, extension;
} deadline_rules[] = {{10, 30, 15}, {10, 30, 30}, {10, 15, 0}, {10, 15, 0}};

static int resolution_days(int kind)
{
    return deadline_rules[kind].resolve;
}

static int compare_events(const void *pa, const void *pb)
{
    const struct petition_event *a = pa, *b = pb;
    if (a->day != b->day)
        return a->day < b->day ? -1 : 1;
    if (a->petition != b->petition)
        return a->petition < b->petition ? -1 : 1;
    return (int)a->status - (int)b->status;
}

static void make_petitions(struct seed *w, struct rng *r,
                           const struct calendar *cal)
{
    int fates[N_PETITIONS];
    for (int i = 0; i < N_PETITIONS; i++)
        fates[i] = i < N_RESOLVED          ? FATE_RESOLVED
                   : i < N_IN_JURISDICTION ? FATE_IN_PROGRESS
                                           : FATE_TRANSFERRED;
    shuffle_ints(r, fates, N_PETITIONS);

    /* Within the period: resolved petitions received up to five weeks
     * before its end and resolved by its last days; those still in
     * progress received in its last seven weeks, so that on its last day
     * some are overdue and some not; transferred ones at any time. */
    int last_day = cal->period_end - 2;
    int resolved_by = cal->period_end - 37;
    int open_from = cal->period_end - 51, open_to = cal->period_end - 11;
    for (int i = 0; i < N_PETITIONS; i++) {
        struct petition *p = &w->petitions[i];
        memset(p, 0, sizeof *p);
        /* Three for every unit, the rest weighted: the district office
         * receives four times as many as a ward. */
        if (i < 3 * N_UNITS) {
            p->unit = i / 3;
        } else {
            int x = rng_range(r, 0, N_WARDS + 3);
            p->unit = x < N_WARDS ? x : DISTRICT_UNIT;
        }
        p->fate = (enum petition_fate)fates[i];
        int k = rng_range(r, 0, 99);
        p->kind = k < 30 ? 0 : k < 40 ? 1 : k < 70 ? 2 : 3;
        int c = rng_range(r, 0, 99);
        p->channel = c < 45 ? 0 : c < 65 ? 1 : c < 90 ? 2 : 3;
        for (int s = 0; s < ST_COUNT; s++)
            p->day[s] = -1;
        p->due_on = -1;
        p->note = rng_range(r, 0, 1023);
        p->note_a = rng_range(r, 2, 98);
        p->note_b = rng_range(r, 1, 40);

        int start = cal->period_start + 1;
        switch (p->fate) {
        case FATE_RESOLVED: {
            int rcv = rng_range(r, start, resolved_by);
            int acc = rcv + rng_range(r, 1, 7);
            int inp = acc + rng_range(r, 1, 4);
            int due = acc + resolution_days(p->kind);
            int res = rng_percent(r, 88) ? rng_range(r, inp + 1, due)
                                         : due + rng_range(r, 1, 10);
            if (res > last_day)
                res = last_day;
            p->day[ST_RECEIVED] = rcv;
            p->day[ST_ACCEPTED] = acc;
            p->day[ST_IN_PROGRESS] = inp;
            p->day[ST_RESOLVED] = res;
            p->due_on = due;
            break;
        }
        case FATE_IN_PROGRESS: {
            int rcv = rng_range(r, open_from, open_to);
            int acc = rcv + rng_range(r, 1, 7);
            int inp = acc + rng_range(r, 1, 3);
            p->day[ST_RECEIVED] = rcv;
            p->day[ST_ACCEPTED] = acc;
            p->day[ST_IN_PROGRESS] = inp;
            p->due_on = acc + resolution_days(p->kind);
            break;
        }
        case FATE_TRANSFERRED: {
            int rcv = rng_range(r, start, open_to);
            p->day[ST_RECEIVED] = rcv;
            p->day[ST_TRANSFERRED] = rcv + rng_range(r, 1, 5);
            break;
        }
        }
    }

    /* Register numbers follow the date of receipt within each unit and
     * start again each year: LB01-2023-001, ..., LB01-2024-001. */
    for (int u = 0; u < N_UNITS; u++) {
        int idx[N_PETITIONS], n = 0;
        for (int i = 0; i < N_PETITIONS; i++)
            if (w->petitions[i].unit == u)
                idx[n++] = i;
        /* insertion sort by received day, then by index: stable */
        for (int a = 1; a < n; a++) {
            int v = idx[a], b = a - 1;
            while (b >= 0 && w->petitions[idx[b]].day[ST_RECEIVED] >
                                 w->petitions[v].day[ST_RECEIVED]) {
                idx[b + 1] = idx[b];
                b--;
            }
            idx[b + 1] = v;
        }
        for (int k = 0, number = 0; k < n; k++) {
            struct petition *p = &w->petitions[idx[k]];
            int year = day_year(p->day[ST_RECEIVED]);
            if (k == 0 ||
                year != day_year(w->petitions[idx[k - 1]].day[ST_RECEIVED]))
                number = 0;
            snprintf(p->code, sizeof p->code, "%s-%04d-%03d", unit_codes[u],
                     year, ++number);
        }
    }

    w->n_events = 0;
    for (int i = 0; i < N_PETITIONS; i++)
        for (int s = 0; s < ST_COUNT; s++)
            if (w->petitions[i].day[s] >= 0)
                w->events[w->n_events++] = (struct petition_event){
                    i, (enum petition_status)s, w->petitions[i].day[s]};
    qsort(w->events, (size_t)w->n_events, sizeof w->events[0], compare_events);
}

static void make_sessions(struct seed *w, struct rng *r,
                          const struct calendar *cal)
{
    int per_unit[N_UNITS];
    for (int u = 0; u < N_UNITS; u++)
        per_unit[u] = 10;
    for (int extra = N_SESSIONS - 10 * N_UNITS; extra > 0;) {
        int u = rng_range(r, 0, N_UNITS - 1);
        if (per_unit[u] < MAX_SESSIONS_PER_UNIT) {
            per_unit[u]++;
            extra--;
        }
    }
    /* One session a week at most in each unit, over the ISO weeks of the
     * period (Monday first), held on a weekday inside the period; the
     * chair hosts most of them. The district office holds one in the
     * period's first week and one in its last, so that a report over all
     * records counts the same weeks as one over the period. */
    int first_monday = week_monday(cal->period_start);
    int n_weeks = period_weeks(cal);
    int n = 0;
    for (int u = 0; u < N_UNITS; u++) {
        int weeks[MAX_WEEKS];
        for (int k = 0; k < n_weeks; k++)
            weeks[k] = k;
        shuffle_ints(r, weeks, n_weeks);
        if (u == DISTRICT_UNIT) {
            const int ends[2] = {0, n_weeks - 1};
            for (int e = 0; e < 2; e++)
                for (int k = e; k < n_weeks; k++)
                    if (weeks[k] == ends[e]) {
                        weeks[k] = weeks[e];
                        weeks[e] = ends[e];
                        break;
                    }
        }
        /* sort the chosen weeks so that register numbers follow dates */
        int chosen[MAX_WEEKS];
        memcpy(chosen, weeks, sizeof chosen);
        for (int a = 1; a < per_unit[u]; a++) {
            int v = chosen[a], b = a - 1;
            while (b >= 0 && chosen[b] > v) {
                chosen[b + 1] = chosen[b];
                b--;
            }
            chosen[b + 1] = v;
        }
        for (int k = 0; k < per_unit[u]; k++) {
            struct session *s = &w->sessions[n++];
            s->unit = u;
            s->day = first_monday + 7 * chosen[k] + rng_range(r, 0, 4);
            if (s->day < cal->period_start)
                s->day = cal->period_start;
            if (s->day > cal->period_end)
                s->day = cal->period_end;
            int h = rng_range(r, 0, 99);
            s->host = h < 65 ? 0 : h < 90 ? 1 : 2;
            s->mode = rng_percent(r, 85) ? 0 : 1;
            s->citizens = 1;
            snprintf(s->code, sizeof s->code, "%s-TCD-%03d", unit_codes[u],
                     k + 1);
        }
    }
    /* 537 citizens: one per session, the rest spread (at most 10 each). */
    for (int extra = N_CITIZENS - N_SESSIONS; extra > 0;) {
        struct session *s = &w->sessions[rng_range(r, 0, N_SESSIONS - 1)];
        if (s->citizens < 10) {
            s->citizens++;
            extra--;
        }
    }
    for (int i = 0; i < N_SESSIONS; i++) {
        int cap = w->sessions[i].citizens < 3 ? w->sessions[i].citizens : 3;
        w->sessions[i].petitions = rng_range(r, 0, cap);
    }
}

/* ---------------------------------------------------------- CSV writing */

static void put_field(FILE *f, const char *value, bool first)
{
    if (!first)
        fputc(',', f);
    if (strpbrk(value, ",\"\r\n") == NULL) {
        fputs(value, f);
        return;
    }
    fputc('"', f);
    for (const char *p = value; *p; p++) {
        if (*p == '"')
            fputc('"', f);
        fputc(*p, f);
    }
    fputc('"', f);
}

/* Petition notes, in the words a clerk would use. Some hold commas,
 * quotation marks and line breaks on purpose: they exercise the CSV
 * reader of the agent. */
static void petition_note(const struct petition *p, enum petition_status status,
                          char *out, size_t size)
{
    int a = p->note_a, b = p->note_b, t = p->note % 3;
    out[0] = '\0';
    switch (status) {
    case ST_RECEIVED:
        switch (p->kind) {
        case 0:
            if (t == 0)
                snprintf(out, size,
                         "Khiếu nại quyết định xử phạt vi phạm hành chính "
                         "về trật tự xây dựng, tổ dân phố %d",
                         b);
            else if (t == 1)
                snprintf(out, size,
                         "Công dân khiếu nại \"Thông báo thu hồi đất\" số "
                         "%d/TB-UBND, đề nghị xem xét lại",
                         a);
            else {
                /* filed one to six months before the complaint */
                int y, m, d;
                day_to_ymd(p->day[ST_RECEIVED] - 30 * (1 + b % 6), &y, &m, &d);
                snprintf(out, size,
                         "Khiếu nại việc chậm cấp Giấy chứng nhận quyền sử "
                         "dụng đất\nHồ sơ nộp tại bộ phận một cửa từ tháng "
                         "%d/%d",
                         m, y);
            }
            break;
        case 1:
            if (t == 2)
                snprintf(out, size,
                         "Tố cáo hành vi xây dựng trái phép tại ngõ %d, "
                         "tổ %d",
                         a, b);
            else
                snprintf(out, size,
                         "Tố cáo cán bộ bộ phận một cửa có biểu hiện gây "
                         "phiền hà, sách nhiễu khi giải quyết thủ tục");
            break;
        case 2:
            if (t == 0)
                snprintf(out, size,
                         "Kiến nghị sửa chữa đường ngõ %d bị xuống cấp, "
                         "ngập úng khi mưa",
                         a);
            else if (t == 1)
                snprintf(out, size,
                         "Kiến nghị:\n1. Bố trí điểm tập kết rác;\n2. Tăng "
                         "tần suất thu gom tại tổ %d",
                         b);
            else
                snprintf(out, size,
                         "Kiến nghị lắp đặt đèn chiếu sáng công cộng tại "
                         "tổ dân phố %d",
                         b);
            break;
        default:
            if (t == 0)
                snprintf(out, size,
                         "Phản ánh việc lấn chiếm vỉa hè để kinh doanh "
                         "tại phố \"%s\"",
                         unit_names[p->unit % N_WARDS]);
            else if (t == 1)
                snprintf(out, size,
                         "Phản ánh: nước thải sinh hoạt chảy tràn ra ngõ "
                         "%d,\r\nđề nghị kiểm tra, xử lý dứt điểm",
                         a);
            else
                snprintf(out, size,
                         "Phản ánh tiếng ồn từ xưởng gỗ vào ban đêm ảnh "
                         "hưởng sinh hoạt của các hộ dân");
            break;
        }
        break;
    case ST_ACCEPTED:
        if (p->note % 4 != 3)
            snprintf(out, size, "Thụ lý, giao công chức %s xác minh, báo cáo",
                     p->kind == 2 ? "địa chính - xây dựng" : "tư pháp");
        break;
    case ST_IN_PROGRESS:
        if (p->note % 5 < 2) {
            /* the meeting: the day it went in progress */
            int y, m, d;
            day_to_ymd(p->day[ST_IN_PROGRESS], &y, &m, &d);
            snprintf(out, size,
                     "Đang xác minh; đã làm việc với các bên liên quan "
                     "ngày %d/%d/%d",
                     d, m, y);
        }
        break;
    case ST_RESOLVED:
        if (p->kind == 0)
            snprintf(out, size,
                     "Đã ban hành Quyết định giải quyết khiếu nại số "
                     "%d/QĐ-UBND",
                     100 + a);
        else
            snprintf(out, size, "Đã giải quyết, trả lời công dân bằng văn bản");
        break;
    case ST_TRANSFERRED:
        snprintf(out, size, "Không thuộc thẩm quyền; chuyển đơn đến %s",
                 p->note % 2 ? "Công an quận Long Biên"
                             : "Chi cục Thuế khu vực \"Long Biên - Gia "
                               "Lâm\"");
        break;
    default:
        break;
    }
}

static FILE *open_output(const char *dir, const char *unit, const char *name,
                         char *path, size_t size)
{
    snprintf(path, size, "%s/%s/%s", dir, unit, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        fprintf(stderr, "seedgen: could not create file \"%s\": %s\n", path,
                strerror(errno));
    return f;
}

static int close_output(FILE *f, const char *path)
{
    if (ferror(f) || fclose(f) != 0) {
        fprintf(stderr, "seedgen: could not write file \"%s\": %s\n", path,
                strerror(errno));
        return -EIO;
    }
    return 0;
}

static int write_ballots(const struct seed *w, struct rng *r, const char *dir,
                         int unit)
{
    char path[4096];
    FILE *f =
        open_output(dir, unit_codes[unit], "ballots.csv", path, sizeof path);
    if (f == NULL)
        return -EIO;
    fputs("survey,form,subject,respondent_group,collected_on", f);
    for (int i = 1; i <= MAX_ITEMS; i++)
        fprintf(f, ",i%02d", i);
    fputc('\n', f);

    /* Ballots arrive mixed, not subject by subject. */
    int order[N_SUBJECTS * MAX_BALLOTS], n = 0;
    for (int s = 0; s < w->n_subjects; s++)
        if (w->subjects[s].unit == unit)
            for (int b = 0; b < w->subjects[s].n_ballots; b++)
                order[n++] = s * MAX_BALLOTS + b;
    shuffle_ints(r, order, n);
    for (int k = 0; k < n; k++) {
        const struct subject *s = &w->subjects[order[k] / MAX_BALLOTS];
        int b = order[k] % MAX_BALLOTS;
        char date[11];
        day_to_text(s->collected_on[b], date);
        fprintf(f, "%s,%s,%s,%d,%s", SURVEY, form_names[s->form], s->code,
                s->group[b], date);
        for (int i = 0; i < MAX_ITEMS; i++) {
            if (i < form_items[s->form])
                fprintf(f, ",%d", s->levels[b][i]);
            else
                fputc(',', f);
        }
        fputc('\n', f);
    }
    return close_output(f, path);
}

/* Petitions are written the way a spreadsheet exports "CSV UTF-8": with a
 * byte order mark and CRLF line ends. */
static int write_petitions(const struct seed *w, const char *dir, int unit)
{
    char path[4096];
    FILE *f =
        open_output(dir, unit_codes[unit], "petitions.csv", path, sizeof path);
    if (f == NULL)
        return -EIO;
    fputs("\xEF\xBB\xBF"
          "petition,kind,channel,status,in_jurisdiction,received_on,due_on,"
          "changed_on,note\r\n",
          f);
    for (int e = 0; e < w->n_events; e++) {
        const struct petition_event *ev = &w->events[e];
        const struct petition *p = &w->petitions[ev->petition];
        if (p->unit != unit)
            continue;
        char received[11], due[11] = "", changed[11], note[512];
        day_to_text(p->day[ST_RECEIVED], received);
        if (ev->status != ST_RECEIVED && p->due_on >= 0)
            day_to_text(p->due_on, due);
        day_to_text(ev->day, changed);
        petition_note(p, ev->status, note, sizeof note);
        put_field(f, p->code, true);
        put_field(f, kind_names[p->kind], false);
        put_field(f, channel_names[p->channel], false);
        put_field(f, status_names[ev->status], false);
        put_field(f, p->fate == FATE_TRANSFERRED ? "no" : "yes", false);
        put_field(f, received, false);
        put_field(f, due, false);
        put_field(f, changed, false);
        put_field(f, note, false);
        fputs("\r\n", f);
    }
    return close_output(f, path);
}

static int write_reception(const struct seed *w, const char *dir, int unit)
{
    char path[4096];
    FILE *f =
        open_output(dir, unit_codes[unit], "reception.csv", path, sizeof path);
    if (f == NULL)
        return -EIO;
    fputs("session,held_on,host_role,mode,citizens,petitions\n", f);
    for (int i = 0; i < N_SESSIONS; i++) {
        const struct session *s = &w->sessions[i];
        if (s->unit != unit)
            continue;
        char held[11];
        day_to_text(s->day, held);
        fprintf(f, "%s,%s,%s,%s,%d,%d\n", s->code, held, host_names[s->host],
                mode_names[s->mode], s->citizens, s->petitions);
    }
    return close_output(f, path);
}

static int compare_remediation(const void *pa, const void *pb)
{
    const struct remediation_row *a = pa, *b = pb;
    if (a->day != b->day)
        return a->day < b->day ? -1 : 1;
    if (a->subject != b->subject)
        return a->subject < b->subject ? -1 : 1;
    return a->status - b->status;
}

static int write_remediation(struct seed *w, const char *dir, int unit,
                             bool *written)
{
    *written = false;
    struct remediation_row rows[N_FLAGGED * 3];
    int n = 0;
    for (int i = 0; i < w->n_remediation; i++)
        if (w->subjects[w->remediation[i].subject].unit == unit)
            rows[n++] = w->remediation[i];
    if (n == 0)
        return 0;
    qsort(rows, (size_t)n, sizeof rows[0], compare_remediation);
    char path[4096];
    FILE *f = open_output(dir, unit_codes[unit], "remediation.csv", path,
                          sizeof path);
    if (f == NULL)
        return -EIO;
    fputs("survey,subject,status,due_on,changed_on\n", f);
    for (int i = 0; i < n; i++) {
        char due[11], changed[11];
        day_to_text(rows[i].due_on, due);
        day_to_text(rows[i].day, changed);
        fprintf(f, "%s,%s,%s,%s,%s\n", SURVEY,
                w->subjects[rows[i].subject].code,
                remediation_names[rows[i].status], due, changed);
    }
    *written = true;
    return close_output(f, path);
}

/* Expected ballots per subject, for the round's completeness indicator. */
#define EXPECTED_PER_SUBJECT 12

/* DIR/rounds.csv, for "district-hub round create --file": the survey
 * round, the form of each subject category, every ward with its expected
 * ballots and every subject with its category. */
static int write_rounds(const struct seed *w, const struct calendar *cal,
                        const char *dir)
{
    char path[4096], opens[11], closes[11];
    snprintf(path, sizeof path, "%s/rounds.csv", dir);
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        fprintf(stderr, "seedgen: could not open file \"%s\": %s\n", path,
                strerror(errno));
        return -EIO;
    }
    day_to_text(cal->round_open, opens);
    day_to_text(cal->round_close, closes);
    fputs("record,round,a,b,c\n", f);
    fprintf(f, "round,%s,%s,%s,Đợt lấy phiếu nhận diện %.4s\n", SURVEY, opens,
            closes, opens);
    for (int k = 0; k < 2; k++)
        fprintf(f, "form,%s,%s,%s,\n", SURVEY, form_names[k], form_names[k]);
    for (int u = 0; u < N_WARDS; u++) {
        int n = 0;
        for (int i = 0; i < w->n_subjects; i++)
            n += w->subjects[i].unit == u;
        fprintf(f, "ward,%s,%s,%d,\n", SURVEY, unit_codes[u],
                n * EXPECTED_PER_SUBJECT);
    }
    for (int i = 0; i < w->n_subjects; i++) {
        const struct subject *sj = &w->subjects[i];
        fprintf(f, "subject,%s,%s,%s,%s\n", SURVEY, unit_codes[sj->unit],
                sj->code, form_names[sj->form]);
    }
    if (fclose(f) != 0) {
        fprintf(stderr, "seedgen: could not write file \"%s\": %s\n", path,
                strerror(errno));
        return -EIO;
    }
    return 0;
}

static int make_dir(const char *path)
{
    if (mkdir(path, 0755) == 0 || errno == EEXIST)
        return 0;
    fprintf(stderr, "seedgen: could not create directory \"%s\": %s\n", path,
            strerror(errno));
    return -errno;
}

/* ---------------------------------------------------------- CSV reading */

/* A small RFC 4180 reader, independent of the one in common/, so that the
 * check below does not trust the code it is meant to test. Calls on_row
 * for every record (the header included) with its first line number. */
typedef int (*csv_row_fn)(void *ctx, long line, int n, char **fields);

static int read_csv(const char *path, csv_row_fn on_row, void *ctx)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "seedgen: could not open file \"%s\": %s\n", path,
                strerror(errno));
        return -EIO;
    }
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    size_t got;
    while (buf != NULL && (got = fread(buf + len, 1, cap - len, f)) > 0) {
        len += got;
        if (len == cap) {
            char *bigger = realloc(buf, cap * 2);
            if (bigger == NULL) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = bigger;
            cap *= 2;
        }
    }
    bool read_error = ferror(f);
    fclose(f);
    if (buf == NULL || read_error) {
        fprintf(stderr, "seedgen: could not read file \"%s\"\n", path);
        free(buf);
        return -EIO;
    }
    char *text = malloc(len + MAX_FIELDS + 2);
    if (text == NULL) {
        free(buf);
        return -ENOMEM;
    }
    int rc = 0;
    size_t i = 0, out = 0;
    if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0)
        i = 3;
    char *fields[MAX_FIELDS];
    int n = 0;
    long line = 1, row_line = 1;
    while (i < len && rc == 0) {
        if (n == MAX_FIELDS) {
            fprintf(stderr, "%s:%ld: too many fields\n", path, row_line);
            rc = -EINVAL;
            break;
        }
        fields[n++] = text + out;
        if (buf[i] == '"') {
            i++;
            for (;;) {
                if (i >= len) {
                    fprintf(stderr, "%s:%ld: unterminated quote\n", path,
                            row_line);
                    rc = -EINVAL;
                    break;
                }
                char c = buf[i++];
                if (c == '"') {
                    if (i < len && buf[i] == '"') {
                        text[out++] = '"';
                        i++;
                        continue;
                    }
                    break;
                }
                if (c == '\n')
                    line++;
                text[out++] = c;
            }
            if (rc != 0)
                break;
        } else {
            while (i < len && buf[i] != ',' && buf[i] != '\r' &&
                   buf[i] != '\n') {
                if (buf[i] == '"') {
                    fprintf(stderr, "%s:%ld: quote inside a bare field\n", path,
                            row_line);
                    rc = -EINVAL;
                    break;
                }
                text[out++] = buf[i++];
            }
        }
        text[out++] = '\0';
        if (rc != 0)
            break;
        if (i < len && buf[i] == ',') {
            i++;
            if (i == len) { /* a last, empty field at end of file */
                fields[n++] = text + out;
                text[out++] = '\0';
            } else {
                continue;
            }
        } else if (i < len) {
            if (buf[i] == '\r')
                i++;
            if (i < len && buf[i] == '\n')
                i++;
            else {
                fprintf(stderr, "%s:%ld: stray character after a field\n", path,
                        row_line);
                rc = -EINVAL;
                break;
            }
            line++;
        }
        rc = on_row(ctx, row_line, n, fields);
        n = 0;
        out = 0;
        row_line = line;
    }
    if (rc == 0 && n > 0)
        rc = on_row(ctx, row_line, n, fields);
    free(text);
    free(buf);
    return rc;
}

/* Maps the header's column names to positions; -1 when absent. */
struct header {
    int n;
    char names[MAX_FIELDS][16];
};

static int header_load(struct header *h, const char *path, int n, char **fields,
                       const char *const *expected, int n_expected)
{
    if (n != n_expected) {
        fprintf(stderr, "%s:1: %d columns, expected %d\n", path, n, n_expected);
        return -EINVAL;
    }
    h->n = n;
    for (int i = 0; i < n; i++) {
        if (strcmp(fields[i], expected[i]) != 0) {
            fprintf(stderr, "%s:1: column %d is \"%s\", expected \"%s\"\n",
                    path, i + 1, fields[i], expected[i]);
            return -EINVAL;
        }
        snprintf(h->names[i], sizeof h->names[i], "%s", fields[i]);
    }
    return 0;
}

/* ---------------------------------------------------------- the recount */

struct tally {
    int subjects, ballots, flagged;
    int petitions_received, in_jurisdiction, resolved, in_progress, transferred,
        petition_events;
    int sessions, citizens;
    int remediation_rows, remediation_subjects;
    /* as of the report's day (the period's last day) */
    int overdue_open, backlog_age[4]; /* 0-15, 16-30, 31-45, over 45 days */
    int chair_weeks, weeks;
    int rem_on_time, rem_overdue;
    /* as of the day every plan's outcome is known */
    int rem_settled_on_time, rem_settled_late, rem_settled_overdue,
        rem_never_submitted;
};

struct recount {
    const struct seed *w;
    const struct calendar *cal;
    const char *path;
    int unit;
    bool header_seen;
    struct tally per_unit[N_UNITS];
    /* ballots */
    int n[N_SUBJECTS];
    int c3[N_SUBJECTS][MAX_ITEMS];
    int c23[N_SUBJECTS][MAX_ITEMS];
    int groups[N_SUBJECTS];
    /* petitions of the current unit */
    char codes[MAX_PETITIONS_PER_UNIT][24];
    int last_status[MAX_PETITIONS_PER_UNIT];
    int last_day[MAX_PETITIONS_PER_UNIT];
    bool in_jurisdiction[MAX_PETITIONS_PER_UNIT];
    int kind[MAX_PETITIONS_PER_UNIT];
    int received[MAX_PETITIONS_PER_UNIT];
    int accepted[MAX_PETITIONS_PER_UNIT];  /* first day accepted, or -1 */
    int typed_due[MAX_PETITIONS_PER_UNIT]; /* last due_on typed, or -1 */
    int n_petitions;
    /* reception of the current unit: weeks (from the period's first)
     * with a session hosted by the chair */
    bool chair_week[MAX_WEEKS];
    /* remediation, each plan's rows in date order */
    bool has_plan[N_SUBJECTS];
    int plan_status[N_SUBJECTS];
    int plan_due[N_SUBJECTS];
    int plan_completed[N_SUBJECTS]; /* the row that moved it to completed */
};

static int bad(struct recount *c, long line, const char *what)
{
    fprintf(stderr, "%s:%ld: %s\n", c->path, line, what);
    return -EINVAL;
}

static int find_subject(const struct seed *w, const char *code)
{
    for (int i = 0; i < w->n_subjects; i++)
        if (strcmp(w->subjects[i].code, code) == 0)
            return i;
    return -1;
}

static int parse_int(const char *s, int lo, int hi)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || errno != 0 || v < lo || v > hi)
        return -1;
    return (int)v;
}

static int on_ballot(void *ctx, long line, int n, char **f)
{
    struct recount *c = ctx;
    static const char *const cols[] = {
        "survey",       "form", "subject", "respondent_group",
        "collected_on", "i01",  "i02",     "i03",
        "i04",          "i05",  "i06",     "i07",
        "i08",          "i09",  "i10",     "i11",
        "i12",          "i13",  "i14",     "i15",
        "i16",          "i17",  "i18",     "i19",
        "i20",          "i21",  "i22",     "i23",
        "i24",          "i25",  "i26",     "i27",
        "i28",          "i29",  "i30",     "i31",
        "i32",          "i33",  "i34",     "i35",
        "i36",          "i37",  "i38",     "i39",
        "i40",          "i41"};
    if (!c->header_seen) {
        struct header h;
        c->header_seen = true;
        return header_load(&h, c->path, n, f, cols, 5 + MAX_ITEMS);
    }
    if (n != 5 + MAX_ITEMS)
        return bad(c, line, "wrong number of fields");
    if (strcmp(f[0], SURVEY) != 0)
        return bad(c, line, "survey");
    int s = find_subject(c->w, f[2]);
    if (s < 0 || c->w->subjects[s].unit != c->unit)
        return bad(c, line, "subject of another unit");
    int form = strcmp(f[1], "leadership") == 0 ? FORM_LEADERSHIP
               : strcmp(f[1], "staff") == 0    ? FORM_STAFF
                                               : -1;
    if (form < 0 || form != (int)c->w->subjects[s].form)
        return bad(c, line, "form");
    int group = parse_int(f[3], 1, N_GROUPS);
    if (group < 0)
        return bad(c, line, "respondent_group");
    int day = text_to_day(f[4]);
    if (day < c->cal->round_open || day > c->cal->round_close)
        return bad(c, line, "collected_on outside the round");
    for (int i = 0; i < MAX_ITEMS; i++) {
        const char *v = f[5 + i];
        if (i >= form_items[form]) {
            if (*v != '\0')
                return bad(c, line, "item beyond the form is not empty");
            continue;
        }
        int level = parse_int(v, 1, 3);
        if (level < 0)
            return bad(c, line, "level");
        c->c3[s][i] += level == 3;
        c->c23[s][i] += level >= 2;
    }
    c->n[s]++;
    c->groups[s] |= 1 << (group - 1);
    c->per_unit[c->unit].ballots++;
    return 0;
}

static bool legal_transition(int from, int to)
{
    switch (from) {
    case -1:
        return to == ST_RECEIVED;
    case ST_RECEIVED:
        return to == ST_ACCEPTED || to == ST_TRANSFERRED || to == ST_WITHDRAWN;
    case ST_ACCEPTED:
        return to == ST_IN_PROGRESS || to == ST_RESOLVED || to == ST_WITHDRAWN;
    case ST_IN_PROGRESS:
        return to == ST_RESOLVED || to == ST_WITHDRAWN;
    default:
        return false;
    }
}

static int on_petition(void *ctx, long line, int n, char **f)
{
    struct recount *c = ctx;
    static const char *const cols[] = {
        "petition",    "kind",   "channel",    "status", "in_jurisdiction",
        "received_on", "due_on", "changed_on", "note"};
    if (!c->header_seen) {
        struct header h;
        c->header_seen = true;
        return header_load(&h, c->path, n, f, cols, 9);
    }
    if (n != 9)
        return bad(c, line, "wrong number of fields");
    int status = -1;
    for (int s = 0; s < ST_COUNT; s++)
        if (strcmp(f[3], status_names[s]) == 0)
            status = s;
    if (status < 0)
        return bad(c, line, "status");
    int kind = -1;
    bool known_channel = false;
    for (int k = 0; k < 4; k++) {
        if (strcmp(f[1], kind_names[k]) == 0)
            kind = k;
        known_channel |= strcmp(f[2], channel_names[k]) == 0;
    }
    if (kind < 0 || !known_channel)
        return bad(c, line, "kind or channel");
    if (strcmp(f[4], "yes") != 0 && strcmp(f[4], "no") != 0)
        return bad(c, line, "in_jurisdiction");
    int received = text_to_day(f[5]), changed = text_to_day(f[7]);
    if (received < 0 || changed < received || changed > c->cal->period_end)
        return bad(c, line, "received_on or changed_on");
    if (*f[6] != '\0' && text_to_day(f[6]) < received)
        return bad(c, line, "due_on");
    if (strlen(f[8]) > 2000)
        return bad(c, line, "note longer than 2,000 bytes");
    int p = 0;
    while (p < c->n_petitions && strcmp(c->codes[p], f[0]) != 0)
        p++;
    if (p == c->n_petitions) {
        if (p == MAX_PETITIONS_PER_UNIT)
            return bad(c, line, "too many petitions");
        snprintf(c->codes[p], sizeof c->codes[p], "%s", f[0]);
        c->last_status[p] = -1;
        c->last_day[p] = received;
        c->received[p] = received;
        c->accepted[p] = -1;
        c->typed_due[p] = -1;
        c->n_petitions++;
    }
    if (!legal_transition(c->last_status[p], status))
        return bad(c, line, "illegal change of status");
    if (changed < c->last_day[p])
        return bad(c, line, "change out of date order");
    c->last_status[p] = status;
    c->last_day[p] = changed;
    c->in_jurisdiction[p] = strcmp(f[4], "yes") == 0;
    c->kind[p] = kind;
    if (*f[6] != '\0')
        c->typed_due[p] = text_to_day(f[6]);
    if (c->accepted[p] < 0 &&
        (status == ST_ACCEPTED || status == ST_IN_PROGRESS ||
         status == ST_RESOLVED))
        c->accepted[p] = changed;
    c->per_unit[c->unit].petition_events++;
    return 0;
}

static int on_session(void *ctx, long line, int n, char **f)
{
    struct recount *c = ctx;
    static const char *const cols[] = {"session", "held_on",  "host_role",
                                       "mode",    "citizens", "petitions"};
    if (!c->header_seen) {
        struct header h;
        c->header_seen = true;
        return header_load(&h, c->path, n, f, cols, 6);
    }
    if (n != 6)
        return bad(c, line, "wrong number of fields");
    int day = text_to_day(f[1]);
    if (day < c->cal->period_start || day > c->cal->period_end)
        return bad(c, line, "held_on outside the period");
    bool known_host = false, known_mode = false;
    for (int k = 0; k < 3; k++)
        known_host |= strcmp(f[2], host_names[k]) == 0;
    for (int k = 0; k < 2; k++)
        known_mode |= strcmp(f[3], mode_names[k]) == 0;
    int citizens = parse_int(f[4], 0, 10000);
    if (!known_host || !known_mode || citizens < 0 ||
        parse_int(f[5], 0, 10000) < 0)
        return bad(c, line, "host_role, mode, citizens or petitions");
    c->per_unit[c->unit].sessions++;
    c->per_unit[c->unit].citizens += citizens;
    if (strcmp(f[2], "chair") == 0 && day <= c->cal->period_end)
        c->chair_week[(week_monday(day) - week_monday(c->cal->period_start)) /
                      7] = true;
    return 0;
}

static int on_remediation(void *ctx, long line, int n, char **f)
{
    struct recount *c = ctx;
    static const char *const cols[] = {"survey", "subject", "status", "due_on",
                                       "changed_on"};
    if (!c->header_seen) {
        struct header h;
        c->header_seen = true;
        return header_load(&h, c->path, n, f, cols, 5);
    }
    if (n != 5)
        return bad(c, line, "wrong number of fields");
    int s = find_subject(c->w, f[1]);
    if (strcmp(f[0], SURVEY) != 0 || s < 0 || c->w->subjects[s].unit != c->unit)
        return bad(c, line, "survey or subject");
    if (text_to_day(f[3]) < 0 || text_to_day(f[4]) < 0)
        return bad(c, line, "due_on or changed_on");
    int status = -1, changed = text_to_day(f[4]);
    for (int k = 0; k < 3; k++)
        if (strcmp(f[2], remediation_names[k]) == 0)
            status = k;
    if (status < 0)
        return bad(c, line, "status");
    if (!c->has_plan[s]) {
        c->per_unit[c->unit].remediation_subjects++;
        c->plan_status[s] = -1;
    }
    /* The completion date is that of the row that moved the plan to
     * completed (docs/DESIGN.md §6); the rows are in date order. */
    if (status == 2 && c->plan_status[s] != 2)
        c->plan_completed[s] = changed;
    c->plan_status[s] = status;
    c->plan_due[s] = text_to_day(f[3]);
    c->has_plan[s] = true;
    c->per_unit[c->unit].remediation_rows++;
    return 0;
}

static int recount_file(struct recount *c, const char *dir, int unit,
                        const char *name, csv_row_fn fn)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s/%s", dir, unit_codes[unit], name);
    c->path = path;
    c->unit = unit;
    c->header_seen = false;
    int rc = read_csv(path, fn, c);
    c->path = NULL;
    return rc;
}

/* An open petition of the current unit as it stood on the report's day
 * A, the period's last day (docs/DESIGN.md §6, §7): open is in
 * jurisdiction and received or accepted, not resolved; its legal due date
 * is the acceptance deadline until it is accepted, then acceptance + the
 * days to resolve + the extension its typed due_on asks for, up to the
 * rule's; overdue when A is after it; its age is A - received. */
static void count_open(const struct recount *c, int p, struct tally *t)
{
    int status = c->last_status[p], as_of = c->cal->period_end;
    if (!c->in_jurisdiction[p] ||
        (status != ST_RECEIVED && status != ST_ACCEPTED &&
         status != ST_IN_PROGRESS) ||
        c->received[p] > as_of)
        return;
    int kind = c->kind[p], due;
    if (c->accepted[p] < 0) {
        due = c->received[p] + deadline_rules[kind].accept;
    } else {
        due = c->accepted[p] + deadline_rules[kind].resolve;
        int extension = c->typed_due[p] < 0 ? 0 : c->typed_due[p] - due;
        if (extension > deadline_rules[kind].extension)
            extension = deadline_rules[kind].extension;
        if (extension > 0)
            due += extension;
    }
    t->overdue_open += as_of > due;
    int age = as_of - c->received[p];
    t->backlog_age[age <= 15 ? 0 : age <= 30 ? 1 : age <= 45 ? 2 : 3]++;
}

/* A flagged subject's plan on day D (docs/DESIGN.md §6): on time when
 * completed on or before its due date and D; overdue when its due date is
 * before D and it was not completed by D. */
static void plan_on(const struct recount *c, int s, int day, bool *on_time,
                    bool *overdue)
{
    bool completed = c->plan_status[s] == 2 && c->plan_completed[s] <= day;
    *on_time = completed && c->plan_completed[s] <= c->plan_due[s];
    *overdue = c->plan_due[s] < day && !completed;
}

static void count_plan(const struct recount *c, int s, struct tally *t)
{
    bool on_time, overdue;
    plan_on(c, s, c->cal->period_end, &on_time, &overdue);
    t->rem_on_time += on_time;
    t->rem_overdue += overdue;
    plan_on(c, s, c->cal->settled, &on_time, &overdue);
    t->rem_settled_on_time += on_time;
    t->rem_settled_overdue += overdue;
    t->rem_settled_late += c->plan_status[s] == 2 && !on_time && !overdue;
    t->rem_never_submitted += c->plan_status[s] == 0;
}

/* Flag rule as DESIGN §6 states it, on the recounted ballots. Also says
 * whether the subject is far from the thresholds either way, so that a
 * hub rounding shares differently still finds the same 22. */
static bool subject_flagged(const struct recount *c, int s, bool *clear_cut)
{
    int n = c->n[s], items = form_items[c->w->subjects[s].form];
    bool flagged = false, clearly_over = false, clearly_under = true;
    for (int i = 0; i < items; i++) {
        int c3 = c->c3[s][i], c23 = c->c23[s][i];
        if (n >= MIN_BALLOTS && (10 * c3 >= 3 * n || 2 * c23 >= n))
            flagged = true;
        if (5 * c3 >= 2 * n || 5 * c23 >= 3 * n)
            clearly_over = true;
        if (5 * c3 > n || 5 * c23 > 2 * n)
            clearly_under = false;
    }
    *clear_cut = flagged ? clearly_over : clearly_under;
    return flagged;
}

static int recount_all(const struct seed *w, const struct calendar *cal,
                       const char *dir, bool remediation_written[N_UNITS],
                       struct tally *total)
{
    struct recount *c = calloc(1, sizeof *c);
    if (c == NULL)
        return -ENOMEM;
    c->w = w;
    c->cal = cal;
    int rc = 0;
    for (int u = 0; u < N_UNITS && rc == 0; u++) {
        if (u != DISTRICT_UNIT)
            rc = recount_file(c, dir, u, "ballots.csv", on_ballot);
        c->n_petitions = 0;
        if (rc == 0)
            rc = recount_file(c, dir, u, "petitions.csv", on_petition);
        for (int p = 0; p < c->n_petitions && rc == 0; p++) {
            struct tally *t = &c->per_unit[u];
            t->petitions_received++;
            t->in_jurisdiction += c->in_jurisdiction[p];
            t->resolved += c->last_status[p] == ST_RESOLVED;
            t->in_progress += c->last_status[p] == ST_IN_PROGRESS ||
                              c->last_status[p] == ST_ACCEPTED;
            t->transferred += c->last_status[p] == ST_TRANSFERRED;
            count_open(c, p, t);
        }
        memset(c->chair_week, 0, sizeof c->chair_week);
        if (rc == 0)
            rc = recount_file(c, dir, u, "reception.csv", on_session);
        for (int k = 0; k < period_weeks(cal); k++)
            c->per_unit[u].chair_weeks += c->chair_week[k];
        c->per_unit[u].weeks = period_weeks(cal);
        if (rc == 0 && remediation_written[u])
            rc = recount_file(c, dir, u, "remediation.csv", on_remediation);
    }

    int problems = 0;
    for (int s = 0; rc == 0 && s < w->n_subjects; s++) {
        const struct subject *subject = &w->subjects[s];
        struct tally *t = &c->per_unit[subject->unit];
        bool clear_cut;
        bool flagged = subject_flagged(c, s, &clear_cut);
        t->subjects += c->n[s] > 0;
        t->flagged += flagged;
        if (c->n[s] < MIN_BALLOTS) {
            fprintf(stderr, "seedgen: subject %s has %d ballots\n",
                    subject->code, c->n[s]);
            problems++;
        }
        if (c->groups[s] != (1 << N_GROUPS) - 1) {
            fprintf(stderr, "seedgen: subject %s misses a group\n",
                    subject->code);
            problems++;
        }
        if (flagged != (subject->flag != FLAG_NONE) || !clear_cut) {
            fprintf(stderr,
                    "seedgen: subject %s: flagged=%d intended=%d clear=%d\n",
                    subject->code, flagged, subject->flag != FLAG_NONE,
                    clear_cut);
            problems++;
        }
        if (flagged != c->has_plan[s]) {
            fprintf(stderr, "seedgen: subject %s: flagged=%d plan=%d\n",
                    subject->code, flagged, c->has_plan[s]);
            problems++;
        }
        if (flagged && c->has_plan[s])
            count_plan(c, s, t);
    }
    memset(total, 0, sizeof *total);
    for (int u = 0; u < N_UNITS; u++) {
        const struct tally *t = &c->per_unit[u];
        total->subjects += t->subjects;
        total->ballots += t->ballots;
        total->flagged += t->flagged;
        total->petitions_received += t->petitions_received;
        total->in_jurisdiction += t->in_jurisdiction;
        total->resolved += t->resolved;
        total->in_progress += t->in_progress;
        total->transferred += t->transferred;
        total->petition_events += t->petition_events;
        total->sessions += t->sessions;
        total->citizens += t->citizens;
        total->remediation_rows += t->remediation_rows;
        total->remediation_subjects += t->remediation_subjects;
        total->overdue_open += t->overdue_open;
        for (int k = 0; k < 4; k++)
            total->backlog_age[k] += t->backlog_age[k];
        total->chair_weeks += t->chair_weeks;
        total->weeks += t->weeks;
        total->rem_on_time += t->rem_on_time;
        total->rem_overdue += t->rem_overdue;
        total->rem_settled_on_time += t->rem_settled_on_time;
        total->rem_settled_late += t->rem_settled_late;
        total->rem_settled_overdue += t->rem_settled_overdue;
        total->rem_never_submitted += t->rem_never_submitted;
    }
    if (rc == 0) {
        printf("%-5s %8s %7s %7s %9s %6s %8s %8s %8s %8s %8s %8s  %s\n", "unit",
               "subjects", "ballots", "flagged", "petitions", "in_jur",
               "resolved", "in_prog", "transfer", "sessions", "citizens",
               "remed", "name");
        for (int u = 0; u <= N_UNITS; u++) {
            const struct tally *t = u < N_UNITS ? &c->per_unit[u] : total;
            printf("%-5s %8d %7d %7d %9d %6d %8d %8d %8d %8d %8d %8d  %s\n",
                   u < N_UNITS ? unit_codes[u] : "total", t->subjects,
                   t->ballots, t->flagged, t->petitions_received,
                   t->in_jurisdiction, t->resolved, t->in_progress,
                   t->transferred, t->sessions, t->citizens,
                   t->remediation_rows,
                   u < N_UNITS ? unit_names[u] : "quận Long Biên");
        }
    }
    free(c);
    if (rc != 0)
        return rc;
    return problems ? -EINVAL : 0;
}

static bool check_total(const char *name, int got, int want)
{
    if (got == want)
        return true;
    fprintf(stderr, "seedgen: %s = %d, expected %d\n", name, got, want);
    return false;
}

/* ------------------------------------------- inspections and rotations */

/* The district's register of inspections and of job rotation for the
 * period (docs/DESIGN.md §6), kept by the district office (DIR/LB):
 *   party inspections: N_PARTY_INSPECTIONS inspections by the district's
 *     party inspection committee, each of one party organisation and one
 *     of its members;
 *   public-service inspection teams KTCV-1 (the district's own bodies) and
 *     KTCV-2 (the 14 wards' party committees), planned, and unannounced
 *     inspections of the 14 wards' people's committees by the same two
 *     teams; no violation found anywhere;
 *   N_APPOINTED cadres appointed or moved, N_ROTATED leaders rotated after
 *     8 to 12 years in one post, and N_STILL_DUE roster lines of leaders
 *     in their post for 8 years or more, not yet rotated. */
#define N_PARTY_INSPECTIONS 3
#define N_DISTRICT_BODIES 6
#define N_TEAMS 2
#define N_APPOINTED 18
#define N_ROTATED 30
#define N_STILL_DUE 4
#define ROTATION_YEARS 8

static const char *const district_bodies[N_DISTRICT_BODIES] = {
    "LB-VP", "LB-NV", "LB-TCKH", "LB-TNMT", "LB-QLDT", "LB-TP"};
static const char *const posts[] = {"chair",     "vice_chair",   "office_chief",
                                    "cadastral", "construction", "justice"};
#define N_POSTS (int)(sizeof posts / sizeof posts[0])

static int random_day(struct rng *r, const struct calendar *cal)
{
    return rng_range(r, cal->period_start, cal->period_end);
}

static int write_inspections(struct rng *r, const struct calendar *cal,
                             const char *dir)
{
    char path[4096], day[11], code[32], unit[32];
    FILE *f = open_output(dir, unit_codes[DISTRICT_UNIT], "inspections.csv",
                          path, sizeof path);
    if (f == NULL)
        return -EIO;
    fputs("inspection,body,unit,held_on,kind,subjects,violations,note\n", f);
    int wards[N_WARDS];
    for (int i = 0; i < N_WARDS; i++)
        wards[i] = i;
    shuffle_ints(r, wards, N_WARDS);
    for (int i = 0; i < N_PARTY_INSPECTIONS; i++) {
        day_to_text(random_day(r, cal), day);
        fprintf(f, "KT-%.4s-%02d,UBKT-LB,CB-%s-%d,%s,party,1,0,", day, i + 1,
                unit_codes[wards[i]], rng_range(r, 1, 9), day);
        put_field(f, "kiểm tra tổ chức đảng và một đảng viên", true);
        fputc('\n', f);
    }
    for (int i = 0; i < N_DISTRICT_BODIES; i++) {
        day_to_text(random_day(r, cal), day);
        fprintf(f, "KTCV1-%.4s-%02d,KTCV-1,%s,%s,planned,%d,0,", day, i + 1,
                district_bodies[i], day, rng_range(r, 3, 8));
        put_field(f, "kiểm tra công vụ theo kế hoạch, không phát hiện sai phạm",
                  true);
        fputc('\n', f);
    }
    for (int i = 0; i < N_WARDS; i++) {
        day_to_text(random_day(r, cal), day);
        snprintf(unit, sizeof unit, "%s-DU", unit_codes[i]);
        fprintf(f, "KTCV2-%.4s-%02d,KTCV-2,%s,%s,planned,%d,0,", day, i + 1,
                unit, day, rng_range(r, 2, 6));
        put_field(f, "Đảng ủy phường", true);
        fputc('\n', f);
    }
    for (int i = 0; i < N_WARDS; i++) {
        day_to_text(random_day(r, cal), day);
        snprintf(code, sizeof code, "DX-%.4s-%02d", day, i + 1);
        snprintf(unit, sizeof unit, "%s-UBND", unit_codes[i]);
        fprintf(f, "%s,KTCV-%d,%s,%s,unannounced,%d,0,", code, i % N_TEAMS + 1,
                unit, day, rng_range(r, 3, 10));
        put_field(f, "kiểm tra đột xuất: không có hành vi nhũng nhiễu", true);
        fputc('\n', f);
    }
    return close_output(f, path);
}

static int write_rotations(struct rng *r, const struct calendar *cal,
                           const char *dir)
{
    char path[4096], day[11];
    FILE *f = open_output(dir, unit_codes[DISTRICT_UNIT], "rotations.csv", path,
                          sizeof path);
    if (f == NULL)
        return -EIO;
    fputs("cadre,post,unit,years_in_post,effective_on,kind\n", f);
    /* Cadre codes are pseudonymous, like subjects. */
    for (int i = 0; i < N_APPOINTED; i++) {
        day_to_text(random_day(r, cal), day);
        fprintf(f, "LBC-1%03d,%s,%s,0,%s,appointed\n", i + 1,
                posts[rng_range(r, 0, N_POSTS - 1)],
                unit_codes[rng_range(r, 0, N_UNITS - 1)], day);
    }
    for (int i = 0; i < N_ROTATED; i++) {
        day_to_text(random_day(r, cal), day);
        fprintf(f, "LBC-2%03d,%s,%s,%d,%s,rotated\n", i + 1,
                posts[rng_range(r, 0, 2)],
                unit_codes[rng_range(r, 0, N_UNITS - 1)],
                rng_range(r, ROTATION_YEARS, ROTATION_YEARS + 4), day);
    }
    day_to_text(cal->period_end, day);
    for (int i = 0; i < N_STILL_DUE; i++)
        fprintf(f, "LBC-3%03d,%s,%s,%d,%s,due\n", i + 1,
                posts[rng_range(r, 0, 2)],
                unit_codes[rng_range(r, 0, N_WARDS - 1)],
                rng_range(r, ROTATION_YEARS, ROTATION_YEARS + 2), day);
    return close_output(f, path);
}

/* What the two files say, recounted as the hub's indicators count it. */
struct work_tally {
    int party, party_members, planned, unannounced, violations;
    char party_units[N_PARTY_INSPECTIONS * 2][32];
    int n_party_units;
    char teams[8][32];
    int n_teams;
    char unannounced_units[N_WARDS * 2][32];
    int n_unannounced_units;
    int appointed, rotated, rotated_after, still_due;
    const struct calendar *cal;
    const char *path;
    bool header_seen;
};

/* Adds name to the set (at most cap names); returns false when full. */
static bool add_distinct(char (*set)[32], int *n, int cap, const char *name)
{
    for (int i = 0; i < *n; i++)
        if (strcmp(set[i], name) == 0)
            return true;
    if (*n == cap)
        return false;
    snprintf(set[(*n)++], 32, "%s", name);
    return true;
}

static int work_bad(struct work_tally *t, long line, const char *what)
{
    fprintf(stderr, "%s:%ld: %s\n", t->path, line, what);
    return -EINVAL;
}

static int on_inspection(void *ctx, long line, int n, char **f)
{
    struct work_tally *t = ctx;
    static const char *const cols[] = {"inspection", "body", "unit",
                                       "held_on",    "kind", "subjects",
                                       "violations", "note"};
    if (!t->header_seen) {
        struct header h;
        t->header_seen = true;
        return header_load(&h, t->path, n, f, cols, 8);
    }
    if (n != 8)
        return work_bad(t, line, "wrong number of fields");
    int day = text_to_day(f[3]);
    int subjects = parse_int(f[5], 0, 10000);
    int violations = parse_int(f[6], 0, 10000);
    if (day < t->cal->period_start || day > t->cal->period_end ||
        subjects < 0 || violations < 0)
        return work_bad(t, line, "held_on, subjects or violations");
    t->violations += violations;
    if (strcmp(f[4], "party") == 0) {
        t->party++;
        t->party_members += subjects;
        if (!add_distinct(t->party_units, &t->n_party_units,
                          N_PARTY_INSPECTIONS * 2, f[2]))
            return work_bad(t, line, "too many party organisations");
        return 0;
    }
    if (strcmp(f[4], "planned") == 0)
        t->planned++;
    else if (strcmp(f[4], "unannounced") == 0) {
        t->unannounced++;
        if (!add_distinct(t->unannounced_units, &t->n_unannounced_units,
                          N_WARDS * 2, f[2]))
            return work_bad(t, line, "too many units");
    } else
        return work_bad(t, line, "unknown kind");
    if (!add_distinct(t->teams, &t->n_teams, 8, f[1]))
        return work_bad(t, line, "too many teams");
    return 0;
}

static int on_rotation(void *ctx, long line, int n, char **f)
{
    struct work_tally *t = ctx;
    static const char *const cols[] = {"cadre",         "post",         "unit",
                                       "years_in_post", "effective_on", "kind"};
    if (!t->header_seen) {
        struct header h;
        t->header_seen = true;
        return header_load(&h, t->path, n, f, cols, 6);
    }
    if (n != 6)
        return work_bad(t, line, "wrong number of fields");
    int years = parse_int(f[3], 0, 100);
    int day = text_to_day(f[4]);
    if (years < 0 || day < t->cal->period_start || day > t->cal->period_end)
        return work_bad(t, line, "years_in_post or effective_on");
    if (strcmp(f[5], "appointed") == 0)
        t->appointed++;
    else if (strcmp(f[5], "rotated") == 0) {
        t->rotated++;
        t->rotated_after += years >= ROTATION_YEARS;
    } else if (strcmp(f[5], "due") == 0)
        t->still_due += years >= ROTATION_YEARS;
    else
        return work_bad(t, line, "unknown kind");
    return 0;
}

/* Reads the two files back and checks the figures of the district's
 * report; prints them as the "district LB:" line of inspections. */
static bool recount_work(const struct calendar *cal, const char *dir)
{
    struct work_tally *t = calloc(1, sizeof *t);
    char path[4096];
    if (t == NULL)
        return false;
    t->cal = cal;
    snprintf(path, sizeof path, "%s/%s/inspections.csv", dir,
             unit_codes[DISTRICT_UNIT]);
    t->path = path;
    int rc = read_csv(path, on_inspection, t);
    snprintf(path, sizeof path, "%s/%s/rotations.csv", dir,
             unit_codes[DISTRICT_UNIT]);
    t->header_seen = false;
    if (rc == 0)
        rc = read_csv(path, on_rotation, t);
    bool ok = rc == 0;
    ok &= check_total("inspections_held_party", t->party, N_PARTY_INSPECTIONS);
    ok &= check_total("units_inspected_party", t->n_party_units,
                      N_PARTY_INSPECTIONS);
    ok &= check_total("party_members_inspected", t->party_members,
                      N_PARTY_INSPECTIONS);
    ok &= check_total("inspection_teams", t->n_teams, N_TEAMS);
    ok &= check_total("inspections_held_planned", t->planned,
                      N_DISTRICT_BODIES + N_WARDS);
    ok &= check_total("units_inspected_unannounced", t->n_unannounced_units,
                      N_WARDS);
    ok &= check_total("inspection_violations", t->violations, 0);
    ok &= check_total("cadres_appointed", t->appointed, N_APPOINTED);
    ok &= check_total("cadres_rotated", t->rotated, N_ROTATED);
    ok &= check_total("cadres_rotated_after_8_years", t->rotated_after,
                      N_ROTATED);
    ok &= check_total("cadres_still_due", t->still_due, N_STILL_DUE);
    printf("district LB: inspections_held_party=%d units_inspected_party=%d "
           "party_members_inspected=%d inspection_teams=%d "
           "inspections_held_planned=%d units_inspected_unannounced=%d "
           "inspection_violations=%d cadres_appointed=%d cadres_rotated=%d "
           "cadres_rotated_after_8_years=%d cadres_still_due=%d\n",
           t->party, t->n_party_units, t->party_members, t->n_teams, t->planned,
           t->n_unannounced_units, t->violations, t->appointed, t->rotated,
           t->rotated_after, t->still_due);
    free(t);
    return ok;
}

/* ---------------------------------------------------------------- main */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: seedgen [--seed N] [--out DIR] [--help]\n"
            "\n"
            "Writes the Long Biên seed data: DIR/LB01 ... DIR/LB14 and "
            "DIR/LB (district\n"
            "office), each with petitions.csv and reception.csv, the wards "
            "with ballots.csv,\n"
            "and remediation.csv where a ward has flagged subjects, the "
            "office with\n"
            "inspections.csv and rotations.csv, and DIR/rounds.csv,\n"
            "the survey round for \"district-hub round create --file\" (CSV "
            "formats of\n"
            "docs/contracts.md). The same seed always gives the same "
            "files.\n"
            "\n"
            "  --seed N   PRNG seed (default 2023)\n"
            "  --out DIR  output folder, created if missing (default seed)\n"
            "  --help     this text\n"
            "\n"
            "District totals, recounted from the files before exit (exit 1 "
            "if any is off):\n"
            "  %d ballots on %d subjects, %d of them meeting the default "
            "flag rule;\n"
            "  %d petitions received, %d in jurisdiction (%d resolved, %d "
            "in progress),\n"
            "  %d transferred; %d reception sessions with %d citizens.\n"
            "\n"
            "Exit codes: 0 ok, 1 totals wrong, 2 usage, 3 I/O error.\n",
            N_BALLOTS, N_SUBJECTS, N_FLAGGED, N_PETITIONS, N_IN_JURISDICTION,
            N_RESOLVED, N_IN_PROGRESS, N_TRANSFERRED, N_SESSIONS, N_CITIZENS);
}

static bool parse_seed(const char *text, uint64_t *seed)
{
    char *end;
    errno = 0;
    if (*text == '\0' || *text == '-')
        return false;
    unsigned long long v = strtoull(text, &end, 0);
    if (*end != '\0' || errno != 0)
        return false;
    *seed = (uint64_t)v;
    return true;
}

int main(int argc, char **argv)
{
    uint64_t seed_value = 2023;
    const char *out = "seed";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *value = NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (strncmp(a, "--seed=", 7) == 0 || strncmp(a, "--out=", 6) == 0) {
            value = strchr(a, '=') + 1;
        } else if (strcmp(a, "--seed") == 0 || strcmp(a, "--out") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "seedgen: %s needs a value\n", a);
                return EXIT_USAGE;
            }
            value = argv[++i];
        } else {
            fprintf(stderr, "seedgen: unknown argument \"%s\"\n", a);
            usage(stderr);
            return EXIT_USAGE;
        }
        if (strncmp(a, "--seed", 6) == 0) {
            if (!parse_seed(value, &seed_value)) {
                fprintf(stderr, "seedgen: bad seed \"%s\"\n", value);
                return EXIT_USAGE;
            }
        } else {
            if (*value == '\0') {
                fprintf(stderr, "seedgen: empty --out\n");
                return EXIT_USAGE;
            }
            out = value;
        }
    }

    struct seed *w = calloc(1, sizeof *w);
    if (w == NULL) {
        fprintf(stderr, "seedgen: out of memory\n");
        return EXIT_IO;
    }
    struct calendar cal = calendar_default();
    if (period_weeks(&cal) < MAX_SESSIONS_PER_UNIT ||
        period_weeks(&cal) > MAX_WEEKS) {
        fprintf(stderr, "seedgen: the period has %d weeks, not %d to %d\n",
                period_weeks(&cal), MAX_SESSIONS_PER_UNIT, MAX_WEEKS);
        free(w);
        return EXIT_VERIFY;
    }
    /* Separate streams per part, so that changing how one part is drawn
     * does not reshuffle the others. */
    struct rng r_ballots = {seed_value ^ UINT64_C(0x62616c6c6f7473)};
    struct rng r_petitions = {seed_value ^ UINT64_C(0x706574697469)};
    struct rng r_reception = {seed_value ^ UINT64_C(0x7265636570)};
    struct rng r_remediation = {seed_value ^ UINT64_C(0x72656d6564)};
    struct rng r_files = {seed_value ^ UINT64_C(0x66696c6573)};
    struct rng r_work = {seed_value ^ UINT64_C(0x776f726b)};
    make_subjects(w, &r_ballots, &cal);
    make_remediation(w, &r_remediation, &cal);
    make_petitions(w, &r_petitions, &cal);
    make_sessions(w, &r_reception, &cal);

    int rc = make_dir(out);
    if (rc == 0)
        rc = write_rounds(w, &cal, out);
    bool remediation_written[N_UNITS] = {false};
    for (int u = 0; u < N_UNITS && rc == 0; u++) {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s/%s", out, unit_codes[u]);
        rc = make_dir(dir);
        if (rc == 0 && u != DISTRICT_UNIT)
            rc = write_ballots(w, &r_files, out, u);
        if (rc == 0)
            rc = write_petitions(w, out, u);
        if (rc == 0)
            rc = write_reception(w, out, u);
        if (rc == 0)
            rc = write_remediation(w, out, u, &remediation_written[u]);
    }
    if (rc == 0)
        rc = write_inspections(&r_work, &cal, out);
    if (rc == 0)
        rc = write_rotations(&r_work, &cal, out);
    if (rc != 0) {
        free(w);
        return EXIT_IO;
    }

    printf("seedgen: seed %" PRIu64 ", survey %s, wrote %s/{LB01..LB14,LB}\n",
           seed_value, SURVEY, out);
    char round_open[11], round_close[11], from[11], to[11], due[11],
        settled[11];
    day_to_text(cal.round_open, round_open);
    day_to_text(cal.round_close, round_close);
    day_to_text(cal.period_start, from);
    day_to_text(cal.period_end, to);
    day_to_text(cal.remediation_due, due);
    day_to_text(cal.settled, settled);
    printf("calendar: survey_round=%s..%s period=%s..%s weeks=%d as_of=%s "
           "remediation_due=%s settled=%s\n",
           round_open, round_close, from, to, period_weeks(&cal), to, due,
           settled);
    struct tally t;
    rc = recount_all(w, &cal, out, remediation_written, &t);
    free(w);
    if (rc == -EIO)
        return EXIT_IO;
    bool ok = rc == 0;
    ok &= check_total("subjects", t.subjects, N_SUBJECTS);
    ok &= check_total("ballots_received", t.ballots, N_BALLOTS);
    ok &= check_total("subjects_flagged", t.flagged, N_FLAGGED);
    ok &= check_total("petitions_received", t.petitions_received, N_PETITIONS);
    ok &= check_total("petitions_in_jurisdiction", t.in_jurisdiction,
                      N_IN_JURISDICTION);
    ok &= check_total("petitions_resolved", t.resolved, N_RESOLVED);
    ok &= check_total("petitions_in_progress", t.in_progress, N_IN_PROGRESS);
    ok &= check_total("petitions_transferred", t.transferred, N_TRANSFERRED);
    ok &= check_total("reception_sessions", t.sessions, N_SESSIONS);
    ok &= check_total("reception_citizens", t.citizens, N_CITIZENS);
    ok &=
        check_total("remediation_subjects", t.remediation_subjects, N_FLAGGED);
    printf("district LB: ballots_received=%d subjects=%d "
           "subjects_flagged_expected=%d petitions_received=%d "
           "petitions_in_jurisdiction=%d petitions_resolved=%d "
           "petitions_in_progress=%d petitions_transferred=%d "
           "petition_events=%d reception_sessions=%d reception_citizens=%d "
           "remediation_rows=%d\n",
           t.ballots, t.subjects, t.flagged, t.petitions_received,
           t.in_jurisdiction, t.resolved, t.in_progress, t.transferred,
           t.petition_events, t.sessions, t.citizens, t.remediation_rows);
    /* As the report judges them on its last day, and once every plan's
     * outcome is known (docs/DESIGN.md §7: what depends on the day). */
    printf("district LB as of %s: petitions_overdue_open=%d "
           "petition_backlog_age_0_15=%d petition_backlog_age_16_30=%d "
           "petition_backlog_age_31_45=%d petition_backlog_age_over_45=%d "
           "chair_reception_weeks=%d/%d remediation_on_time=%d/%d "
           "remediation_overdue=%d\n",
           to, t.overdue_open, t.backlog_age[0], t.backlog_age[1],
           t.backlog_age[2], t.backlog_age[3], t.chair_weeks, t.weeks,
           t.rem_on_time, t.flagged, t.rem_overdue);
    printf("district LB as of %s: remediation_on_time=%d/%d "
           "remediation_late=%d remediation_overdue=%d "
           "remediation_never_submitted=%d\n",
           settled, t.rem_settled_on_time, t.flagged, t.rem_settled_late,
           t.rem_settled_overdue, t.rem_never_submitted);
    ok &= check_total("remediation_on_time (settled)", t.rem_settled_on_time,
                      N_REM_ON_TIME);
    ok &= check_total("remediation_late (settled)", t.rem_settled_late,
                      N_REM_LATE);
    ok &= check_total("remediation_overdue (settled)", t.rem_settled_overdue,
                      N_REM_SUBMITTED + N_REM_NEVER);
    ok &= check_total("remediation_never_submitted", t.rem_never_submitted,
                      N_REM_NEVER);
    ok &= check_total("petitions open on the report's day",
                      t.backlog_age[0] + t.backlog_age[1] + t.backlog_age[2] +
                          t.backlog_age[3],
                      N_IN_PROGRESS);
    ok &= recount_work(&cal, out);
    if (!ok) {
        fprintf(stderr, "seedgen: totals are not exact; see above\n");
        return EXIT_VERIFY;
    }
    printf("seedgen: totals verified\n");
    return 0;
}
