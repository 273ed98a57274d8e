// Test helper: a message the test built itself, parsed; the test stops if it does not parse.
#pragma once

#include <catch2/catch.hpp>

#include <string>

#include "sipvoice/sip/message.hpp"

inline sipvoice::sip::message parse_wire(const std::string& wire) {
    auto m = sipvoice::sip::message::parse(wire);
    REQUIRE(m.has_value());
    return std::move(*m);
}
