// sipvoice/result.hpp: the value-or-error type used by every sans-I/O layer.
//
// The lower layers build with -fno-exceptions, so failures are values. A result<T, E> holds either a T
// or an E; E is the layer's own error type and must say whether it represents a failure through
// `failed()`. T must be default-constructible (the layers' value types are small views and numbers).
#pragma once

#include <utility>

namespace sipvoice {

// A value type whose every member is initialized by its own initializer or its type's default
// constructor (std::string_view, std::vector...) may declare `using initialized_by_default = void;`.
// Its results are then default-initialized: the members' initializers alone, without first zeroing
// the whole object as value-initialization does. gcc writes that zeroing of a few-hundred-byte view
// (name_addr, via) as `rep stos`, which cost 5-9% of the parser benchmark (tools/bench, README).
// A member without an initializer in such a type would be left indeterminate: keep the rule.
template <class T>
concept initialized_by_default = requires { typename T::initialized_by_default; };

namespace detail {
template <class T>
struct result_slot {
    T value{};
};
template <initialized_by_default T>
struct result_slot<T> {
    T value;
};
}  // namespace detail

template <class T, class E>
class result {
public:
    // A fresh T (value-initialized, or default-initialized when initialized_by_default), to be filled
    // in place through operator* (no copy of a large view).
    result() = default;
    result(T value) : slot_{std::move(value)} {}  // NOLINT(google-explicit-constructor): implicit by design
    result(E err) : error_(err) {}                  // NOLINT(google-explicit-constructor)

    // Turns this result into a failure; the value goes back to a value-initialized T.
    void set_error(E err) {
        error_ = err;
        slot_.value = T{};
    }

    [[nodiscard]] bool has_value() const noexcept { return !error_.failed(); }
    explicit operator bool() const noexcept { return has_value(); }

    // Precondition: has_value(). Accessing the value of a failed result gives a default-constructed T,
    // never undefined behaviour, so a forgotten check cannot read out of bounds.
    T& operator*() noexcept { return slot_.value; }
    const T& operator*() const noexcept { return slot_.value; }
    T* operator->() noexcept { return &slot_.value; }
    const T* operator->() const noexcept { return &slot_.value; }
    const T& value() const noexcept { return slot_.value; }

    [[nodiscard]] const E& error() const noexcept { return error_; }

    template <class U>
    T value_or(U&& fallback) const {
        return has_value() ? slot_.value : static_cast<T>(std::forward<U>(fallback));
    }

private:
    detail::result_slot<T> slot_;
    E error_{};
};

}  // namespace sipvoice
