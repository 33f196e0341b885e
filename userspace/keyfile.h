/* SPDX-License-Identifier: Apache-2.0 */
/*
 * keyfile: a host secret kept in a file of its own (the mask key, the
 * recording key): made on first use from the system's random source,
 * 0600 in a 0700 folder, and refused when anyone but its owner may read it.
 * Return convention: 0 or a negative errno.
 */
#ifndef SLUICE_KEYFILE_H
#define SLUICE_KEYFILE_H

#include <stddef.h>
#include <stdint.h>

/* Read the len-byte key at dir/name into key, making dir and the key when
 * missing. A file of another size or mode is -EINVAL (and logged). */
int keyfile_load(const char *dir, const char *name, uint8_t *key, size_t len);

#endif
