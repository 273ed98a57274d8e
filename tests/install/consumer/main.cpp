// Parses a message with the installed library; exit 0 only if the Call-ID comes back.
#include <cstdio>
#include <string_view>

#include "sipvoice/config.hpp"
#include "sipvoice/sip/message.hpp"

int main() {
    constexpr std::string_view wire =
        "OPTIONS sip:alice@example.com SIP/2.0\r\n"
        "Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\n"
        "From: <sip:bob@example.com>;tag=1\r\nTo: <sip:alice@example.com>\r\n"
        "Call-ID: consumer-1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
    auto m = sipvoice::sip::message::parse(wire);
    if (!m || m->call_id().value_or("") != "consumer-1") return 1;
    std::printf("sipvoice %s: parsed %s\n", SIPVOICE_VERSION, std::string(m->method_name()).c_str());
    return 0;
}
