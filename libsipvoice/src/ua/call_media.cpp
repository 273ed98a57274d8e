// The media of one call: sockets, offer/answer and the audio stream.
#include "sipvoice/ua/call_media.hpp"

#include <random>

namespace sipvoice::ua {
namespace {

sdp::local_media local_media_for(const media_config& cfg, std::uint16_t port, std::uint64_t session_id) {
    sdp::local_media l;
    l.address = cfg.address;
    l.port = port;
    l.codecs = cfg.codecs;
    l.telephone_event = cfg.telephone_event;
    l.rtcp_mux = cfg.sockets.rtcp_mux;
    l.session_id = session_id;
    return l;
}

}  // namespace

std::unique_ptr<call_media> call_media::create(asio::io_context& io, media_config config, std::string* error) {
    auto socket = std::make_unique<media::rtp_socket>(io, config.sockets);
    if (auto ec = socket->open()) {
        if (error) *error = "no RTP port in " + std::to_string(config.sockets.port_min) + "-" +
                            std::to_string(config.sockets.port_max) + ": " + ec.message();
        return nullptr;
    }
    return std::unique_ptr<call_media>(new call_media(io, std::move(config), std::move(socket)));
}

call_media::call_media(asio::io_context& io, media_config config, std::unique_ptr<media::rtp_socket> socket)
    : io_(io), cfg_(std::move(config)), socket_(std::move(socket)),
      oa_(local_media_for(cfg_, socket_->rtp_port(),
                          cfg_.seed != 0 ? cfg_.seed : (std::random_device{}() & 0x7fffffffU))) {}

call_media::~call_media() { stop(); }

std::string call_media::offer() { return sdp::serialize(oa_.create_offer()); }

bool call_media::on_answer(const std::string& text) {
    auto parsed = sdp::parse(text);
    if (!parsed) {
        last_status_ = 400;
        last_error_ = "unreadable SDP answer: " + std::string(parsed.error().what());
        oa_.cancel_offer();
        return false;
    }
    auto n = oa_.receive_answer(*parsed);
    if (!n) {
        last_status_ = sdp::sip_status(n.error().code);
        last_error_ = "unusable SDP answer: " + std::string(n.error().what());
        return false;
    }
    return apply(*n);
}

std::optional<std::string> call_media::answer(const std::string& offer_text) {
    auto parsed = sdp::parse(offer_text);
    if (!parsed) {
        last_status_ = 400;
        last_error_ = "unreadable SDP offer: " + std::string(parsed.error().what());
        return std::nullopt;
    }
    auto a = oa_.receive_offer(*parsed);
    if (!a) {
        last_status_ = sdp::sip_status(a.error().code);
        last_error_ = "cannot accept the SDP offer: " + std::string(a.error().what());
        return std::nullopt;
    }
    const sdp::negotiated* n = oa_.current();
    if (n == nullptr || !apply(*n)) return std::nullopt;
    return sdp::serialize(*a);
}

bool call_media::apply(const sdp::negotiated& n) {
    std::error_code ec;
    const auto rtp_addr = asio::ip::make_address(n.remote_address, ec);
    const auto rtcp_addr = asio::ip::make_address(n.remote_rtcp_address.empty() ? n.remote_address : n.remote_rtcp_address, ec);
    if (!ec) socket_->set_remote({rtp_addr, n.remote_port}, {rtcp_addr, n.remote_rtcp_port});
    // The same codec and payload numbers: the running stream continues (a hold, an address change).
    if (audio_ && running_ && running_->codec == n.codec && running_->receive_payload_type == n.receive_payload_type &&
        running_->telephone_event == n.telephone_event && running_->ptime == n.ptime) {
        running_ = n;
        return true;
    }
    media::audio_stream_config ac;
    ac.app_rate = cfg_.app_rate;
    ac.codec = n.codec.name;
    ac.clock_rate = n.codec.clock_rate;
    ac.channels = n.codec.channels;
    ac.payload_type = n.codec.payload_type;
    ac.receive_payload_type = n.receive_payload_type;
    ac.telephone_event_payload_type = n.telephone_event ? *n.telephone_event : -1;
    ac.receive_telephone_event_payload_type = n.receive_telephone_event ? *n.receive_telephone_event : -1;
    ac.telephone_event_rate = n.telephone_event_rate != 0 ? n.telephone_event_rate : 8000;
    ac.ptime = duration(n.ptime != 0 ? n.ptime : 20);
    std::string error;
    if (audio_) audio_->stop();
    audio_ = media::audio_stream::create(io_, *socket_, ac, &error);
    if (!audio_) {
        last_status_ = 488;
        last_error_ = error;
        running_.reset();
        return false;
    }
    running_ = n;
    if (frame_cb_) audio_->on_frame(frame_cb_);
    if (dtmf_cb_) audio_->on_dtmf(dtmf_cb_);
    audio_->start();
    return true;
}

std::string call_media::codec_name() const {
    if (!running_) return "none";
    return running_->codec.name + "/" + std::to_string(running_->codec.clock_rate);
}

void call_media::stop() {
    if (audio_) audio_->stop();
    socket_->close();
}

void call_media::on_frame(media::audio_stream::frame_handler handler) {
    frame_cb_ = handler;
    if (audio_) audio_->on_frame(std::move(handler));
}

void call_media::on_dtmf(media::audio_stream::dtmf_handler handler) {
    dtmf_cb_ = handler;
    if (audio_) audio_->on_dtmf(std::move(handler));
}

}  // namespace sipvoice::ua
