/*
 * names.h - the text names of the wire enums, as used in CSV files, SQL
 * columns and reports ("complaint", "in_progress", "vice_chair", ...).
 *
 * Each *_name function returns a static lower-case name, or NULL for a value
 * outside the enum (including the UNSPECIFIED zero). Each *_name_vi returns
 * the Vietnamese name shown to clerks ("khiếu nại"), NULL likewise. Each
 * *_parse function accepts those names and the Vietnamese ones of
 * docs/contracts.md ("kiến nghị", "trực tiếp", "đã giải quyết", ...),
 * compared through ws_fold (case, blanks around and inside, NFC or NFD
 * diacritics do not count), and returns the enum value, or -1.
 */
#ifndef WARDSYNC_NAMES_H
#define WARDSYNC_NAMES_H

#include "wardsync/codec.h"

const char *ws_petition_kind_name(int value);
const char *ws_petition_kind_name_vi(int value);
int ws_petition_kind_parse(const char *name);

const char *ws_petition_channel_name(int value);
const char *ws_petition_channel_name_vi(int value);
int ws_petition_channel_parse(const char *name);

const char *ws_petition_status_name(int value);
const char *ws_petition_status_name_vi(int value);
int ws_petition_status_parse(const char *name);

const char *ws_host_role_name(int value);
const char *ws_host_role_name_vi(int value);
int ws_host_role_parse(const char *name);

const char *ws_reception_mode_name(int value);
const char *ws_reception_mode_name_vi(int value);
int ws_reception_mode_parse(const char *name);

const char *ws_remediation_status_name(int value);
const char *ws_remediation_status_name_vi(int value);
int ws_remediation_status_parse(const char *name);

/* "party", "planned", "unannounced" (Inspection.kind). */
const char *ws_inspection_kind_name(int value);
const char *ws_inspection_kind_name_vi(int value);
int ws_inspection_kind_parse(const char *name);

/* "appointed", "rotated", "due" (Rotation.kind). */
const char *ws_rotation_kind_name(int value);
const char *ws_rotation_kind_name_vi(int value);
int ws_rotation_kind_parse(const char *name);

/* "yes"/"no", "true"/"false", "1"/"0", "có"/"không", "đúng"/"sai" (as the
 * parse functions compare): 1 or 0; else -1. */
int ws_bool_parse(const char *text);

#endif
