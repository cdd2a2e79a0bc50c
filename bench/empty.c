// SPDX-License-Identifier: LGPL-2.1-or-later
/* The reference for bench-load: a shared object with nothing in it. */
