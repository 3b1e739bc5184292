/*
 * report.h - "district-hub report": one self-contained HTML page.
 */
#ifndef DISTRICT_HUB_REPORT_H
#define DISTRICT_HUB_REPORT_H

#include "settings.h"

/* Writes the district's indicators per ward (tables) and charts (inline
 * SVG: ballot levels per content group, remediation of flagged subjects,
 * petition backlog by age, on-time rate per ward, reception per week), with
 * the rules and thresholds used, to path ("-": stdout). No external asset:
 * styles and charts are inline, text is UTF-8. Every figure is the one
 * indicator_values() / flagged_subjects() give "district-hub indicators"
 * for the same cell, judged as of as_of (NULL: the district's today);
 * suppressed cells show "<k". Returns 0 or -EIO; the reason is logged. */
int report_run(const struct hub_settings *settings, const char *path,
               const char *as_of);

#endif
