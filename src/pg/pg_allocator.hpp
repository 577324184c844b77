// An allocator that places Boost.Container (or std) containers in a
// PostgreSQL MemoryContext. Out of memory is a C++ exception (bad_alloc),
// never a longjmp out of the middle of a container operation.
#pragma once

extern "C" {
#include "postgres.h"

#include "utils/memutils.h"
}

#include "pg/fault_injection.hpp"

#include <cstddef>
#include <new>

namespace fast_count {

template <typename T>
class MemoryContextAllocator {
public:
    using value_type = T;

    explicit MemoryContextAllocator(MemoryContext context) noexcept : context_(context) {}
    template <typename U>
    MemoryContextAllocator(const MemoryContextAllocator<U> &other) noexcept
        : context_(other.context())
    {
    }

    T *allocate(std::size_t n)
    {
        fault::point(fault::kAllocator);
        void *memory = MemoryContextAllocExtended(context_, n * sizeof(T), MCXT_ALLOC_NO_OOM);
        if (memory == nullptr)
            throw std::bad_alloc();
        return static_cast<T *>(memory);
    }
    void deallocate(T *memory, std::size_t) noexcept { pfree(memory); }

    MemoryContext context() const noexcept { return context_; }

    template <typename U>
    bool operator==(const MemoryContextAllocator<U> &other) const noexcept
    {
        return context_ == other.context();
    }
    template <typename U>
    bool operator!=(const MemoryContextAllocator<U> &other) const noexcept
    {
        return context_ != other.context();
    }

private:
    MemoryContext context_;
};

} // namespace fast_count
