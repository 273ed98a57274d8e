// sipvoice/result.hpp: the value-or-error type used by every sans-I/O layer.
//
// The lower layers build with -fno-exceptions, so failures are values. A result<T, E> holds either a T
// or an E; E is the layer's own error type and must say whether it represents a failure through
// `failed()`. T must be default-constructible (the layers' value types are small views and numbers).
#pragma once

#include <utility>

namespace sipvoice {

template <class T, class E>
class result {
public:
    // A value-initialized T, to be filled in place through operator* (no copy of a large view).
    result() = default;
    result(T value) : value_(std::move(value)) {}  // NOLINT(google-explicit-constructor): implicit by design
    result(E err) : error_(err) {}                  // NOLINT(google-explicit-constructor)

    // Turns this result into a failure; the value goes back to a value-initialized T.
    void set_error(E err) {
        error_ = err;
        value_ = T{};
    }

    [[nodiscard]] bool has_value() const noexcept { return !error_.failed(); }
    explicit operator bool() const noexcept { return has_value(); }

    // Precondition: has_value(). Accessing the value of a failed result gives a default-constructed T,
    // never undefined behaviour, so a forgotten check cannot read out of bounds.
    T& operator*() noexcept { return value_; }
    const T& operator*() const noexcept { return value_; }
    T* operator->() noexcept { return &value_; }
    const T* operator->() const noexcept { return &value_; }
    const T& value() const noexcept { return value_; }

    [[nodiscard]] const E& error() const noexcept { return error_; }

    template <class U>
    T value_or(U&& fallback) const {
        return has_value() ? value_ : static_cast<T>(std::forward<U>(fallback));
    }

private:
    T value_{};
    E error_{};
};

}  // namespace sipvoice
