/*
 * report.h - "city-pull report": the city's HTML report from the
 * warehouse (docs/contracts.md, city-pull).
 */
#ifndef CITY_PULL_REPORT_H
#define CITY_PULL_REPORT_H

/* Writes the report of the warehouse at conninfo to path ("-": stdout),
 * atomically (path.tmp, then renamed). A district whose hub was last
 * loaded more than stale_after_s seconds ago is listed as stale. Returns
 * an exit code (hub.h). */
int report_run(const char *conninfo, const char *path, long stale_after_s);

#endif
