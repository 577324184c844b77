// An allocator over a PostgreSQL MemoryContext for C++ containers
// (Boost.Container flat_map, small_vector). It never raises a PostgreSQL
// error: when memory runs out it throws std::bad_alloc, which unwinds the
// C++ frames and becomes an ERROR at the cpp_entry() boundary.
#pragma once

extern "C" {
#include "postgres.h"

#include "utils/memutils.h"
}

#include <cstddef>
#include <new>

namespace fast_count {

template <typename T>
class PgAllocator {
public:
    using value_type = T;

    PgAllocator() noexcept : context_(TopMemoryContext) {}
    explicit PgAllocator(MemoryContext context) noexcept : context_(context) {}
    template <typename U>
    PgAllocator(const PgAllocator<U> &other) noexcept : context_(other.context())
    {
    }

    T *allocate(std::size_t n)
    {
        void *p = MemoryContextAllocExtended(context_, n * sizeof(T), MCXT_ALLOC_NO_OOM);
        if (p == nullptr)
            throw std::bad_alloc();
        return static_cast<T *>(p);
    }
    void deallocate(T *p, std::size_t) noexcept { pfree(p); }

    MemoryContext context() const noexcept { return context_; }

    template <typename U>
    bool operator==(const PgAllocator<U> &other) const noexcept
    {
        return context_ == other.context();
    }
    template <typename U>
    bool operator!=(const PgAllocator<U> &other) const noexcept
    {
        return context_ != other.context();
    }

private:
    MemoryContext context_;
};

} // namespace fast_count
