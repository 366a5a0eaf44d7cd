/* apd — the daemon's state (apd.h), set up by main.c before the server
 * starts and read by every part of it.  SPDX-License-Identifier: MIT */
#include "apd.h"

apd_state G;
