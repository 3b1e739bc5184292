/*
 * roles.h - "district-hub migrate" gives the database roles wardsync_hub
 * and wardsync_city the passwords held in the files of
 * settings->{hub,city}_role_password_file (when set).
 */
#ifndef DISTRICT_HUB_ROLES_H
#define DISTRICT_HUB_ROLES_H

#include "settings.h"

/* Reads each password file (owner-only, at least 12 characters) and sets
 * the role's password as the owner (settings->database). Returns 0 or a
 * negative errno (reason logged). */
int roles_set_passwords(const struct hub_settings *settings);

#endif
