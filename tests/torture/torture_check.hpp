// Holds the parser and the user-agent validator to one row of tests/data/expected.tsv.
#pragma once

void check_torture(const char* path, const char* parser_expectation, const char* ua_expectation);
