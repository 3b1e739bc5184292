/*
 * audit.c - the auditor of the publication rule: equations from the
 * published files, GLPK for the bounds (see audit.h).
 */
#include "audit.h"

#include <errno.h>
#include <glpk.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "wardsync/csv.h"

#define CODE_MAX 96

struct unit {
    char code[CODE_MAX];
    char parent[CODE_MAX];
    bool has_children;
};

/* One (round, ward, subject) of the ballot aggregates. */
struct subject {
    char survey[CODE_MAX], ward[CODE_MAX], subject[CODE_MAX];
    int items;
    int supp[5]; /* per group 0 ('all'), 1..4: -1 no row, 0, 1 */
    int xcol[5]; /* columns of x per group 1..4 (index 0 unused) */
    int ycol0;   /* first y column: ((g-1)*items + item-1)*3 + level-1 */
    int flagcol; /* 0/1 flag variable, 0 when none */
};

struct ba_row {
    int subject; /* index into subjects */
    int item;
    int group; /* 0 = all */
    int suppressed;
    bool has_ballots;
    double ballots, level[3];
};

struct ind_row {
    char code[48], org_unit[CODE_MAX], unit_kind[24], period[CODE_MAX];
    int suppressed;
    bool has_num, has_den, has_val;
    double num, den, val;
    int val_decimals;
};

/* Reporting unit of one round: its timeliness variable. */
struct reporting {
    char survey[CODE_MAX], ward[CODE_MAX];
    int tcol;
};

struct expr {
    int n, cap;
    int *idx;
    double *val;
};

struct audit {
    struct unit *units;
    int n_units;
    struct subject *subjects;
    int n_subjects;
    struct ba_row *rows;
    int n_rows;
    struct ind_row *ind;
    int n_ind;
    struct reporting *rep;
    int n_rep;
    int cap_units, cap_subjects, cap_rows, cap_ind, cap_rep;
    glp_prob *lp;
    int k, flag_min;
    FILE *report;
    struct audit_result *res;
    char *err;
    size_t errlen;
};

/* ------------------------------------------------------------ helpers */

static void *grow(void *p, int n, int *cap, size_t size)
{
    if (n < *cap)
        return p;
    int ncap = *cap ? *cap * 2 : 64;
    void *q = realloc(p, (size_t)ncap * size);
    if (!q)
        return NULL;
    *cap = ncap;
    return q;
}

static int expr_add(struct expr *e, int col, double coef)
{
    for (int i = 0; i < e->n; i++)
        if (e->idx[i + 1] == col) {
            e->val[i + 1] += coef;
            return 0;
        }
    if (e->n + 2 > e->cap) {
        int ncap = e->cap ? e->cap * 2 : 64;
        int *idx = realloc(e->idx, (size_t)ncap * sizeof *idx);
        if (!idx)
            return -ENOMEM;
        e->idx = idx;
        double *val = realloc(e->val, (size_t)ncap * sizeof *val);
        if (!val)
            return -ENOMEM;
        e->val = val;
        e->cap = ncap;
    }
    e->n++;
    e->idx[e->n] = col; /* GLPK arrays are 1-based */
    e->val[e->n] = coef;
    return 0;
}

static void expr_free(struct expr *e)
{
    free(e->idx);
    free(e->val);
    memset(e, 0, sizeof *e);
}

static void copy_code(char *dst, const char *src)
{
    snprintf(dst, CODE_MAX, "%s", src);
}

/* ---------------------------------------------------------- reading */

struct header {
    int n;
    char names[40][40];
};

static int col_of(const struct header *h, const char *name)
{
    for (int i = 0; i < h->n; i++)
        if (strcmp(h->names[i], name) == 0)
            return i;
    return -1;
}

static const char *field(const struct ws_csv_record *r, int col)
{
    return col >= 0 && (size_t)col < r->n_fields ? r->fields[col] : "";
}

static bool parse_number(const char *s, double *out, int *decimals)
{
    if (!s || !*s)
        return false;
    char *end;
    *out = strtod(s, &end);
    if (*end != '\0')
        return false;
    if (decimals) {
        const char *dot = strchr(s, '.');
        *decimals = dot ? (int)strlen(dot + 1) : 0;
    }
    return true;
}

static int truth(const char *s)
{
    if (!*s)
        return -1;
    return s[0] == 't' || s[0] == 'T' || s[0] == '1';
}

typedef int (*row_fn)(struct audit *a, const struct header *h,
                      const struct ws_csv_record *r, const char *path);

static int read_csv(struct audit *a, const char *path, row_fn fn)
{
    struct ws_csv_reader *rd = ws_csv_open(path, a->err, a->errlen);
    if (!rd)
        return -ENOENT;
    struct header h = {0};
    struct ws_csv_record rec;
    int rc, first = 1;
    while ((rc = ws_csv_next(rd, &rec, a->err, a->errlen)) == 1) {
        if (first) {
            for (size_t i = 0; i < rec.n_fields && i < 40; i++)
                snprintf(h.names[i], sizeof h.names[i], "%s", rec.fields[i]);
            h.n = rec.n_fields < 40 ? (int)rec.n_fields : 40;
            first = 0;
            continue;
        }
        if (strcmp(field(&rec, col_of(&h, "op")), "delete") == 0)
            continue;
        rc = fn(a, &h, &rec, path);
        if (rc < 0)
            break;
    }
    ws_csv_close(&rd);
    return rc < 0 ? rc : 0;
}

static int unit_row(struct audit *a, const struct header *h,
                    const struct ws_csv_record *r, const char *path)
{
    (void)path;
    a->units = grow(a->units, a->n_units, &a->cap_units, sizeof *a->units);
    if (!a->units)
        return -ENOMEM;
    struct unit *u = &a->units[a->n_units++];
    memset(u, 0, sizeof *u);
    copy_code(u->code, field(r, col_of(h, "code")));
    copy_code(u->parent, field(r, col_of(h, "parent")));
    return 0;
}

static const struct unit *find_unit(const struct audit *a, const char *code)
{
    for (int i = 0; i < a->n_units; i++)
        if (strcmp(a->units[i].code, code) == 0)
            return &a->units[i];
    return NULL;
}

static int find_subject(struct audit *a, const char *survey, const char *ward,
                        const char *subject, bool create)
{
    for (int i = 0; i < a->n_subjects; i++) {
        const struct subject *s = &a->subjects[i];
        if (strcmp(s->survey, survey) == 0 && strcmp(s->ward, ward) == 0 &&
            strcmp(s->subject, subject) == 0)
            return i;
    }
    if (!create)
        return -1;
    a->subjects =
        grow(a->subjects, a->n_subjects, &a->cap_subjects, sizeof *a->subjects);
    if (!a->subjects)
        return -ENOMEM;
    struct subject *s = &a->subjects[a->n_subjects];
    memset(s, 0, sizeof *s);
    copy_code(s->survey, survey);
    copy_code(s->ward, ward);
    copy_code(s->subject, subject);
    for (int g = 0; g < 5; g++)
        s->supp[g] = -1;
    return a->n_subjects++;
}

static int ba_row(struct audit *a, const struct header *h,
                  const struct ws_csv_record *r, const char *path)
{
    int si = find_subject(a, field(r, col_of(h, "survey")),
                          field(r, col_of(h, "ward")),
                          field(r, col_of(h, "subject")), true);
    if (si < 0)
        return si;
    a->rows = grow(a->rows, a->n_rows, &a->cap_rows, sizeof *a->rows);
    if (!a->rows)
        return -ENOMEM;
    struct ba_row *b = &a->rows[a->n_rows];
    memset(b, 0, sizeof *b);
    b->subject = si;
    b->item = atoi(field(r, col_of(h, "item")));
    const char *g = field(r, col_of(h, "respondent_group"));
    b->group = strcmp(g, "all") == 0 ? 0 : atoi(g);
    if (b->item < 1 || b->group < 0 || b->group > 4) {
        snprintf(a->err, a->errlen, "%s:%ld: bad item \"%s\" or group \"%s\"",
                 path, r->line, field(r, col_of(h, "item")), g);
        return -EINVAL;
    }
    b->suppressed = truth(field(r, col_of(h, "suppressed")));
    b->has_ballots =
        parse_number(field(r, col_of(h, "ballots")), &b->ballots, NULL);
    static const char *const lv[] = {"level1", "level2", "level3"};
    for (int l = 0; l < 3; l++)
        parse_number(field(r, col_of(h, lv[l])), &b->level[l], NULL);
    struct subject *s = &a->subjects[si];
    if (b->item > s->items)
        s->items = b->item;
    s->supp[b->group] = b->suppressed == 1 || !b->has_ballots;
    a->n_rows++;
    return 0;
}

static int ind_row(struct audit *a, const struct header *h,
                   const struct ws_csv_record *r, const char *path)
{
    (void)path;
    const char *code = field(r, col_of(h, "code"));
    if (strcmp(code, "ballots_received") != 0 &&
        strcmp(code, "ballot_completeness") != 0 &&
        strcmp(code, "subject_score") != 0 &&
        strcmp(code, "ward_reporting_timeliness") != 0 &&
        strcmp(code, "subjects_flagged") != 0)
        return 0;
    a->ind = grow(a->ind, a->n_ind, &a->cap_ind, sizeof *a->ind);
    if (!a->ind)
        return -ENOMEM;
    struct ind_row *x = &a->ind[a->n_ind++];
    memset(x, 0, sizeof *x);
    snprintf(x->code, sizeof x->code, "%s", code);
    copy_code(x->org_unit, field(r, col_of(h, "org_unit")));
    snprintf(x->unit_kind, sizeof x->unit_kind, "%s",
             field(r, col_of(h, "unit_kind")));
    copy_code(x->period, field(r, col_of(h, "period")));
    x->has_num = parse_number(field(r, col_of(h, "numerator")), &x->num, NULL);
    x->has_den =
        parse_number(field(r, col_of(h, "denominator")), &x->den, NULL);
    x->has_val =
        parse_number(field(r, col_of(h, "value")), &x->val, &x->val_decimals);
    x->suppressed = truth(field(r, col_of(h, "suppressed")));
    if (x->suppressed < 0) /* no column: a row without a value is hidden */
        x->suppressed = !x->has_val && !x->has_num;
    return 0;
}

/* ------------------------------------------------------- the model */

static bool is_survey(const struct audit *a, const char *period)
{
    for (int i = 0; i < a->n_subjects; i++)
        if (strcmp(a->subjects[i].survey, period) == 0)
            return true;
    return false;
}

/* Whether anc is code or one of its ancestors. */
static bool under(const struct audit *a, const char *code, const char *anc)
{
    for (int depth = 0; code && *code && depth < 64; depth++) {
        if (strcmp(code, anc) == 0)
            return true;
        const struct unit *u = find_unit(a, code);
        code = u ? u->parent : NULL;
    }
    return false;
}

/* Whether ward (a unit the round reports for) belongs to the indicator
 * row's org_unit: "<unit>-office" is the unit's own ballots, a unit with
 * children every reporting unit at or below it, else the ward itself. */
static bool member(const struct audit *a, const char *org_unit,
                   const char *unit_kind, const char *ward)
{
    size_t len = strlen(org_unit);
    if (len > 7 && strcmp(org_unit + len - 7, "-office") == 0) {
        char base[CODE_MAX];
        snprintf(base, sizeof base, "%.*s", (int)(len - 7), org_unit);
        if (find_unit(a, base))
            return strcmp(base, ward) == 0;
    }
    const struct unit *u = find_unit(a, org_unit);
    if (u && u->has_children && strcmp(unit_kind, "ward") != 0 &&
        strcmp(unit_kind, "office") != 0)
        return under(a, ward, org_unit);
    return strcmp(org_unit, ward) == 0;
}

static int add_cols(struct audit *a, int n, int kind)
{
    int first = glp_add_cols(a->lp, n);
    for (int j = first; j < first + n; j++) {
        if (kind == GLP_BV) {
            glp_set_col_kind(a->lp, j, GLP_BV);
        } else if (kind == GLP_CV) {
            glp_set_col_bnds(a->lp, j, GLP_LO, 0.0, 0.0);
        } else {
            glp_set_col_bnds(a->lp, j, GLP_LO, 0.0, 0.0);
            glp_set_col_kind(a->lp, j, GLP_IV);
        }
    }
    a->res->vars += n;
    return first;
}

static void add_row(struct audit *a, const struct expr *e, int type, double lb,
                    double ub)
{
    if (e->n == 0)
        return;
    int row = glp_add_rows(a->lp, 1);
    glp_set_row_bnds(a->lp, row, type, lb, ub);
    glp_set_mat_row(a->lp, row, e->n, e->idx, e->val);
    a->res->rows++;
}

static int ycol(const struct subject *s, int g, int item, int level)
{
    return s->ycol0 + ((g - 1) * s->items + item - 1) * 3 + level;
}

/* x of a subject summed over its groups, times coef, into e. */
static int add_subject_x(struct expr *e, const struct subject *s, double coef)
{
    for (int g = 1; g <= 4; g++) {
        int rc = expr_add(e, s->xcol[g], coef);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* The ballots of an indicator row's unit in its round. */
static int unit_expr(const struct audit *a, const struct ind_row *x,
                     struct expr *e)
{
    for (int i = 0; i < a->n_subjects; i++) {
        const struct subject *s = &a->subjects[i];
        if (strcmp(s->survey, x->period) == 0 &&
            member(a, x->org_unit, x->unit_kind, s->ward)) {
            int rc = add_subject_x(e, s, 1.0);
            if (rc < 0)
                return rc;
        }
    }
    return 0;
}

static int timeliness_col(struct audit *a, const char *survey, const char *ward)
{
    for (int i = 0; i < a->n_rep; i++)
        if (strcmp(a->rep[i].survey, survey) == 0 &&
            strcmp(a->rep[i].ward, ward) == 0)
            return a->rep[i].tcol;
    return 0;
}

static int build(struct audit *a)
{
    for (int i = 0; i < a->n_units; i++) {
        const struct unit *p = find_unit(a, a->units[i].parent);
        if (p)
            ((struct unit *)p)->has_children = true;
    }
    /* Columns and the structural equations of every subject. */
    for (int i = 0; i < a->n_subjects; i++) {
        struct subject *s = &a->subjects[i];
        s->xcol[1] = add_cols(a, 4, GLP_IV);
        for (int g = 2; g <= 4; g++)
            s->xcol[g] = s->xcol[1] + g - 1;
        s->ycol0 = add_cols(a, 4 * s->items * 3, GLP_CV);
        for (int g = 1; g <= 4; g++)
            for (int item = 1; item <= s->items; item++) {
                struct expr e = {0};
                int rc = 0;
                for (int l = 0; l < 3 && rc == 0; l++)
                    rc = expr_add(&e, ycol(s, g, item, l), 1.0);
                if (rc == 0)
                    rc = expr_add(&e, s->xcol[g], -1.0);
                if (rc < 0) {
                    expr_free(&e);
                    return rc;
                }
                add_row(a, &e, GLP_FX, 0.0, 0.0);
                expr_free(&e);
            }
    }
    /* Published ballot aggregates. */
    for (int r = 0; r < a->n_rows; r++) {
        const struct ba_row *b = &a->rows[r];
        const struct subject *s = &a->subjects[b->subject];
        if (b->suppressed == 1 || !b->has_ballots)
            continue;
        int g0 = b->group ? b->group : 1, g1 = b->group ? b->group : 4;
        int rc = 0;
        if (b->item == 1) {
            struct expr e = {0};
            for (int g = g0; g <= g1 && rc == 0; g++)
                rc = expr_add(&e, s->xcol[g], 1.0);
            if (rc == 0)
                add_row(a, &e, GLP_FX, b->ballots, b->ballots);
            expr_free(&e);
        }
        for (int l = 0; l < 3 && rc == 0; l++) {
            struct expr e = {0};
            for (int g = g0; g <= g1 && rc == 0; g++)
                rc = expr_add(&e, ycol(s, g, b->item, l), 1.0);
            if (rc == 0)
                add_row(a, &e, GLP_FX, b->level[l], b->level[l]);
            expr_free(&e);
        }
        if (rc < 0)
            return rc;
    }
    /* Published indicators. */
    for (int i = 0; i < a->n_ind; i++) {
        const struct ind_row *x = &a->ind[i];
        if (x->suppressed || !is_survey(a, x->period))
            continue;
        struct expr e = {0};
        int rc = 0;
        if (strcmp(x->code, "ballots_received") == 0 ||
            strcmp(x->code, "ballot_completeness") == 0) {
            if (x->has_num) {
                rc = unit_expr(a, x, &e);
                if (rc == 0 && e.n == 0 && x->num != 0) {
                    snprintf(a->err, a->errlen,
                             "%s %s %s: %g ballots but no subject in the "
                             "ballot aggregates",
                             x->code, x->org_unit, x->period, x->num);
                    rc = -EINVAL;
                }
                if (rc == 0)
                    add_row(a, &e, GLP_FX, x->num, x->num);
            }
        } else if (strcmp(x->code, "subject_score") == 0) {
            struct expr l = {0}, rt = {0};
            for (int j = 0; j < a->n_subjects && rc == 0; j++) {
                const struct subject *s = &a->subjects[j];
                if (strcmp(s->survey, x->period) != 0 ||
                    !member(a, x->org_unit, x->unit_kind, s->ward))
                    continue;
                for (int g = 1; g <= 4 && rc == 0; g++)
                    for (int it = 1; it <= s->items && rc == 0; it++)
                        for (int lv = 0; lv < 3 && rc == 0; lv++) {
                            rc = expr_add(&l, ycol(s, g, it, lv), lv + 1.0);
                            if (rc == 0)
                                rc = expr_add(&rt, ycol(s, g, it, lv), 1.0);
                        }
            }
            if (rc == 0 && x->has_num && x->has_den) {
                add_row(a, &l, GLP_FX, x->num, x->num);
                add_row(a, &rt, GLP_FX, x->den, x->den);
            } else if (rc == 0 && x->has_val) {
                /* |L/R - v| <= half a unit of the last printed decimal. */
                double half = 0.5 * pow(10.0, -x->val_decimals) + 1e-6;
                for (int bound = 0; bound < 2 && rc == 0; bound++) {
                    struct expr c = {0};
                    double v = bound ? x->val - half : x->val + half;
                    for (int t = 1; t <= l.n && rc == 0; t++)
                        rc = expr_add(&c, l.idx[t], l.val[t]);
                    for (int t = 1; t <= rt.n && rc == 0; t++)
                        rc = expr_add(&c, rt.idx[t], -v * rt.val[t]);
                    if (rc == 0) {
                        if (bound)
                            add_row(a, &c, GLP_LO, -1e-7, 0.0);
                        else
                            add_row(a, &c, GLP_UP, 0.0, 1e-7);
                    }
                    expr_free(&c);
                }
            }
            expr_free(&l);
            expr_free(&rt);
        } else if (strcmp(x->code, "ward_reporting_timeliness") == 0 &&
                   x->has_num) {
            for (int j = 0; j < a->n_subjects && rc == 0; j++) {
                const struct subject *s = &a->subjects[j];
                if (strcmp(s->survey, x->period) != 0 ||
                    !member(a, x->org_unit, x->unit_kind, s->ward))
                    continue;
                int t = timeliness_col(a, s->survey, s->ward);
                if (t == 0) {
                    a->rep =
                        grow(a->rep, a->n_rep, &a->cap_rep, sizeof *a->rep);
                    if (!a->rep)
                        return -ENOMEM;
                    struct reporting *p = &a->rep[a->n_rep++];
                    copy_code(p->survey, s->survey);
                    copy_code(p->ward, s->ward);
                    p->tcol = t = add_cols(a, 1, GLP_BV);
                    /* t <= ballots of the ward: a ward without a ballot
                     * was not on time. A ward with ballots may have sent
                     * them late (after the round closed), and when it
                     * did is not published, so nothing more is known. */
                    struct expr lo = {0};
                    for (int q = 0; q < a->n_subjects && rc == 0; q++) {
                        const struct subject *o = &a->subjects[q];
                        if (strcmp(o->survey, s->survey) == 0 &&
                            strcmp(o->ward, s->ward) == 0)
                            rc = add_subject_x(&lo, o, 1.0);
                    }
                    if (rc == 0)
                        rc = expr_add(&lo, t, -1.0);
                    if (rc == 0)
                        add_row(a, &lo, GLP_LO, 0.0, 0.0);
                    expr_free(&lo);
                }
                bool seen = false; /* one term per unit, not per subject */
                for (int q = 1; q <= e.n; q++)
                    seen = seen || e.idx[q] == t;
                if (rc == 0 && !seen)
                    rc = expr_add(&e, t, 1.0);
            }
            if (rc == 0)
                add_row(a, &e, GLP_FX, x->num, x->num);
        } else if (strcmp(x->code, "subjects_flagged") == 0 && x->has_num) {
            for (int j = 0; j < a->n_subjects && rc == 0; j++) {
                struct subject *s = &a->subjects[j];
                if (strcmp(s->survey, x->period) != 0 ||
                    !member(a, x->org_unit, x->unit_kind, s->ward))
                    continue;
                if (s->flagcol == 0) {
                    /* A flagged subject holds flag_min ballots or more. */
                    s->flagcol = add_cols(a, 1, GLP_BV);
                    struct expr c = {0};
                    rc = add_subject_x(&c, s, 1.0);
                    if (rc == 0)
                        rc = expr_add(&c, s->flagcol, -(double)a->flag_min);
                    if (rc == 0)
                        add_row(a, &c, GLP_LO, 0.0, 0.0);
                    expr_free(&c);
                }
                if (rc == 0)
                    rc = expr_add(&e, s->flagcol, 1.0);
            }
            if (rc == 0)
                add_row(a, &e, GLP_FX, x->num, x->num);
        }
        expr_free(&e);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* ------------------------------------------------------- the checks */

/* The minimum or maximum of e over the integer points of the model:
 * *out is the best integer solution found, *proven whether it is the
 * optimum (the search stops after a few seconds). */
static int bound(struct audit *a, const struct expr *e, int dir, double *out,
                 bool *proven)
{
    int n = glp_get_num_cols(a->lp);
    for (int j = 1; j <= n; j++)
        glp_set_obj_coef(a->lp, j, 0.0);
    for (int t = 1; t <= e->n; t++)
        glp_set_obj_coef(a->lp, e->idx[t], e->val[t]);
    glp_set_obj_dir(a->lp, dir);
    glp_smcp sm;
    glp_init_smcp(&sm);
    sm.msg_lev = GLP_MSG_OFF;
    int rc = glp_simplex(a->lp, &sm);
    if (rc != 0 || glp_get_status(a->lp) != GLP_OPT) {
        /* A stale basis: once more from scratch. */
        glp_adv_basis(a->lp, 0);
        rc = glp_simplex(a->lp, &sm);
    }
    if (rc == 0 && glp_get_status(a->lp) == GLP_UNBND) {
        /* No published total bounds it: not determined. */
        *out = dir == GLP_MAX ? 1e12 : -1e12;
        *proven = true;
        return 0;
    }
    if (rc == 0 && glp_get_status(a->lp) == GLP_NOFEAS) {
        snprintf(a->err, a->errlen,
                 "the published figures have no solution in the auditor's "
                 "model");
        return -EDOM;
    }
    if (rc != 0 || glp_get_status(a->lp) != GLP_OPT) {
        snprintf(a->err, a->errlen, "glp_simplex failed: %d, status %d", rc,
                 glp_get_status(a->lp));
        return -EIO;
    }
    glp_iocp parm;
    glp_init_iocp(&parm);
    parm.presolve = GLP_OFF;
    parm.msg_lev = GLP_MSG_OFF;
    parm.tm_lim = 4000;
    rc = glp_intopt(a->lp, &parm);
    int status = glp_mip_status(a->lp);
    if (status == GLP_NOFEAS) {
        snprintf(a->err, a->errlen,
                 "the published figures have no integer solution in the "
                 "auditor's model");
        return -EDOM;
    }
    if (status != GLP_OPT && status != GLP_FEAS) {
        snprintf(a->err, a->errlen, "glp_intopt failed: %d, status %d", rc,
                 status);
        return -EIO;
    }
    *out = glp_mip_obj_val(a->lp);
    *proven = rc == 0 && status == GLP_OPT;
    return 0;
}

/* Checks one suppressed cell (group = false) or sum of suppressed cells.
 * Two integer solutions of different value prove a cell undetermined; one
 * of 0 or k ballots or more proves a sum safe. Otherwise the bounds must be
 * proven optima for a leak; when they are not, the cell is undecided. */
static int check(struct audit *a, const struct expr *e, bool group,
                 const char *what)
{
    double lo, hi;
    bool lo_ok, hi_ok;
    int rc = bound(a, e, GLP_MIN, &lo, &lo_ok);
    if (rc == 0)
        rc = bound(a, e, GLP_MAX, &hi, &hi_ok);
    if (rc < 0) {
        size_t len = strlen(a->err);
        snprintf(a->err + len, a->errlen - len, " (checking %s)", what);
        return rc;
    }
    bool safe, leak;
    if (group) {
        a->res->groups++;
        safe = lo < 0.5 || hi > a->k - 0.5;
    } else {
        a->res->cells++;
        safe = hi - lo >= 0.5;
    }
    leak = !safe && lo_ok && hi_ok;
    if (leak) {
        a->res->leaks++;
        if (a->report)
            fprintf(a->report, "leak: %s min=%.0f max=%.0f\n", what, lo, hi);
    } else if (!safe) {
        a->res->undecided++;
        if (a->report)
            fprintf(a->report,
                    "undecided: %s (solutions found: %.0f and %.0f, "
                    "optimum not proven)\n",
                    what, lo, hi);
    }
    return 0;
}

/* The ballots_received row of a unit in a round, or NULL. */
static const struct ind_row *
unit_row_of(const struct audit *a, const char *survey, const char *org_unit)
{
    for (int i = 0; i < a->n_ind; i++)
        if (strcmp(a->ind[i].code, "ballots_received") == 0 &&
            strcmp(a->ind[i].period, survey) == 0 &&
            strcmp(a->ind[i].org_unit, org_unit) == 0)
            return &a->ind[i];
    return NULL;
}

static int check_subjects(struct audit *a)
{
    char what[4 * CODE_MAX];
    for (int i = 0; i < a->n_subjects; i++) {
        const struct subject *s = &a->subjects[i];
        struct expr sum = {0};
        int members = 0, rc = 0;
        for (int g = 1; g <= 4 && rc == 0; g++) {
            if (s->supp[g] != 1)
                continue;
            struct expr e = {0};
            rc = expr_add(&e, s->xcol[g], 1.0);
            snprintf(what, sizeof what, "ballot_aggregates %s/%s/%s group %d",
                     s->survey, s->ward, s->subject, g);
            if (rc == 0)
                rc = check(a, &e, false, what);
            expr_free(&e);
            if (rc == 0)
                rc = expr_add(&sum, s->xcol[g], 1.0);
            members++;
        }
        if (rc == 0 && s->supp[0] == 1) {
            struct expr e = {0};
            rc = add_subject_x(&e, s, 1.0);
            snprintf(what, sizeof what, "ballot_aggregates %s/%s/%s all",
                     s->survey, s->ward, s->subject);
            if (rc == 0)
                rc = check(a, &e, false, what);
            expr_free(&e);
        } else if (rc == 0 && s->supp[0] == 0 && members >= 2) {
            snprintf(what, sizeof what,
                     "suppressed groups of published %s/%s/%s", s->survey,
                     s->ward, s->subject);
            rc = check(a, &sum, true, what);
        }
        expr_free(&sum);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int check_units(struct audit *a)
{
    char what[4 * CODE_MAX];
    for (int i = 0; i < a->n_ind; i++) {
        const struct ind_row *x = &a->ind[i];
        if (strcmp(x->code, "ballots_received") != 0 ||
            !is_survey(a, x->period))
            continue;
        struct expr e = {0};
        int rc = unit_expr(a, x, &e);
        /* A unit without a subject in the round has 0 ballots by the
         * public list of subjects, not by anyone's ballot: not a cell. */
        if (rc == 0 && x->suppressed && e.n > 0) {
            snprintf(what, sizeof what, "ballots_received %s %s", x->org_unit,
                     x->period);
            rc = check(a, &e, false, what);
        }
        expr_free(&e);
        if (rc < 0 || x->suppressed)
            continue;
        /* The suppressed children of a published unit. */
        struct expr sum = {0};
        int members = 0;
        const struct unit *u = find_unit(a, x->org_unit);
        size_t len = strlen(x->org_unit);
        bool office = len > 7 && strcmp(x->org_unit + len - 7, "-office") == 0;
        if (u && u->has_children && !office) {
            char child[CODE_MAX + 8];
            for (int c = -1; c < a->n_units && rc == 0; c++) {
                if (c < 0)
                    snprintf(child, sizeof child, "%s-office", u->code);
                else if (strcmp(a->units[c].parent, u->code) == 0)
                    snprintf(child, sizeof child, "%s", a->units[c].code);
                else
                    continue;
                const struct ind_row *cr = unit_row_of(a, x->period, child);
                if (!cr || !cr->suppressed)
                    continue;
                rc = unit_expr(a, cr, &sum);
                members++;
            }
        } else {
            for (int j = 0; j < a->n_subjects && rc == 0; j++) {
                const struct subject *s = &a->subjects[j];
                if (strcmp(s->survey, x->period) == 0 &&
                    member(a, x->org_unit, x->unit_kind, s->ward) &&
                    s->supp[0] == 1) {
                    rc = add_subject_x(&sum, s, 1.0);
                    members++;
                }
            }
        }
        if (rc == 0 && members >= 2) {
            snprintf(what, sizeof what, "suppressed parts of published %s %s",
                     x->org_unit, x->period);
            rc = check(a, &sum, true, what);
        }
        expr_free(&sum);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int audit_run(const struct audit_files *files, int k, int flag_min,
              FILE *report, struct audit_result *out, char *err, size_t errlen)
{
    struct audit a = {0};
    memset(out, 0, sizeof *out);
    a.k = k;
    a.flag_min = flag_min;
    a.report = report;
    a.res = out;
    a.err = err;
    a.errlen = errlen;
    int rc = read_csv(&a, files->org_units, unit_row);
    if (rc == 0)
        rc = read_csv(&a, files->ballot_aggregates, ba_row);
    if (rc == 0 && files->indicators)
        rc = read_csv(&a, files->indicators, ind_row);
    if (rc == 0) {
        glp_term_out(GLP_OFF);
        a.lp = glp_create_prob();
        rc = build(&a);
    }
    if (rc == 0)
        rc = check_subjects(&a);
    if (rc == 0)
        rc = check_units(&a);
    if (a.lp)
        glp_delete_prob(a.lp);
    free(a.units);
    free(a.subjects);
    free(a.rows);
    free(a.ind);
    free(a.rep);
    return rc;
}
