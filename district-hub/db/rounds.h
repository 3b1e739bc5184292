/*
 * db/rounds.h - the queries of survey rounds (đợt lấy phiếu), on the hub's
 * one connection type (db/conn.h), for "district-hub round".
 *
 * Every statement is a constant with parameters. Functions return 0 or a
 * negative errno with the reason in err: -EIO for the database, -EINVAL
 * for a refusal the operator can fix (a value the database refused, or a
 * move the rules forbid: the reason says what), -ENOENT for an unknown
 * round. A caller that groups several calls in one transaction uses
 * db_command(BEGIN), db_commit and db_rollback of db/conn.h.
 */
#ifndef DISTRICT_HUB_DB_ROUNDS_H
#define DISTRICT_HUB_DB_ROUNDS_H

#include <stddef.h>

struct db;

/* Inserts a round in state draft, or updates label and dates of a round
 * still in draft (the same values again are accepted at any state). */
int db_round_upsert(struct db *db, const char *code, const char *opens_on,
                    const char *closes_on, const char *label, char *err,
                    size_t errlen);

/* The form a category of subjects answers in round. */
int db_round_form(struct db *db, const char *round, const char *category,
                  const char *form, char *err, size_t errlen);

/* A ward (or the district office) of round with its expected ballots; an
 * unknown ward adds nothing. */
int db_round_ward(struct db *db, const char *round, const char *ward,
                  const char *expected, char *err, size_t errlen);

int db_round_subject(struct db *db, const char *round, const char *ward,
                     const char *subject, const char *category, char *err,
                     size_t errlen);

/* Moves a round to "open" or "closed". -EINVAL when the move is not
 * allowed (closed rounds stay closed), -ENOENT for an unknown round. */
int db_round_set_state(struct db *db, const char *code, const char *state,
                       char *err, size_t errlen);

/* Runs fn once per row of the round summary (every round when code is
 * NULL): code, label, opens_on, closes_on, state, wards, subjects,
 * expected ballots, received ballots. -ENOENT when code names no round. */
typedef void (*db_round_fn)(void *ctx, const char *const fields[9]);
int db_round_show(struct db *db, const char *code, db_round_fn fn, void *ctx,
                  char *err, size_t errlen);

#endif
