/* SPDX-License-Identifier: MIT */
#pragma once

int cmd_record(int argc, char **argv);
