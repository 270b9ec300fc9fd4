// Qt's own signal costs, measured the way `cargo bench -p sigloop-core --bench signals`
// measures sigloop's, so that both can be run on one machine in one sitting
// (`scripts/bench-qt-signals` builds this file and runs both).
//
// Cases, one line each as `qt_<case> <ns per operation>`:
// - floor_N: N `std::function` called from a `std::vector` (C++'s form of the Rust floor);
// - emit_N: a direct emission to N functor slots with the same bodies;
// - emit_member_N: a direct emission to N member slots, each of its own receiver object;
// - queued_1: one emission through a queued connection plus its delivery by
//   `QCoreApplication::processEvents` (amortised over batches of 64);
// - connect_disconnect: one functor `connect` and one `disconnect`;
// - connect_disconnect_member: the same with a member slot of a receiver object.
// Best of 21 rounds; floor and emit rounds alternate, as in the Rust bench.

#include <QCoreApplication>
#include <QObject>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <vector>

class Sender : public QObject {
    Q_OBJECT
signals:
    void fired(quint64 x);
};

// A receiver with a member slot: the other common form of a Qt connection.
class Receiver : public QObject {
    Q_OBJECT
public:
    quint64 *acc = nullptr;
public slots:
    void on(quint64 x) { *acc += x; }
};

// Keeps a value alive in the optimiser's eyes, like Rust's `black_box`.
template <typename T> static inline void keep(T &value) { asm volatile("" : "+m"(value) : : "memory"); }

using Slot = std::function<void(const quint64 &)>;

__attribute__((noinline)) static void floor_once(std::vector<Slot> &fns, const quint64 &x)
{
    for (auto &s : fns)
        s(x);
}

__attribute__((noinline)) static void emit_once(Sender *s, quint64 x)
{
    emit s->fired(x);
}

static constexpr int ROUNDS = 21;

template <typename F> static double measure_once(std::uint64_t iters, std::uint64_t ops, F &&f)
{
    for (std::uint64_t i = 0; i < iters / 10; ++i)
        f();
    auto start = std::chrono::steady_clock::now();
    for (std::uint64_t i = 0; i < iters; ++i)
        f();
    auto ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count();
    return ns / double(iters * ops);
}

template <typename F> static double best(std::uint64_t iters, std::uint64_t ops, F &&f)
{
    double b = 1e300;
    for (int r = 0; r < ROUNDS; ++r)
        b = std::min(b, measure_once(iters, ops, f));
    return b;
}

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    quint64 acc = 0;
    auto body = [&acc](const quint64 &x) { acc += x; };

    double floor_ns[3], emit_ns[3];
    const int counts[3] = {1, 3, 10};
    for (int i = 0; i < 3; ++i) {
        std::vector<Slot> fns(counts[i], Slot(body));
        Sender sender;
        for (int k = 0; k < counts[i]; ++k)
            QObject::connect(&sender, &Sender::fired, &sender, body, Qt::DirectConnection);
        double f = 1e300, e = 1e300;
        for (int r = 0; r < ROUNDS; ++r) {
            f = std::min(f, measure_once(2000000, 1, [&] {
                quint64 one = 1;
                keep(one);
                floor_once(fns, one);
            }));
            e = std::min(e, measure_once(2000000, 1, [&] {
                quint64 one = 1;
                keep(one);
                Sender *p = &sender;
                keep(p);
                emit_once(p, one);
            }));
        }
        floor_ns[i] = f;
        emit_ns[i] = e;
    }

    double member_ns[3];
    for (int i = 0; i < 3; ++i) {
        Sender sender;
        std::vector<Receiver> receivers(counts[i]);
        for (auto &r : receivers) {
            r.acc = &acc;
            QObject::connect(&sender, &Sender::fired, &r, &Receiver::on, Qt::DirectConnection);
        }
        member_ns[i] = best(2000000, 1, [&] {
            quint64 one = 1;
            keep(one);
            Sender *p = &sender;
            keep(p);
            emit_once(p, one);
        });
    }

    Sender empty;
    double emit0 = best(2000000, 1, [&] {
        Sender *p = &empty;
        keep(p);
        emit_once(p, 1);
    });

    Sender queued;
    QObject receiver;
    QObject::connect(&queued, &Sender::fired, &receiver, body, Qt::QueuedConnection);
    double queued1 = best(20000, 64, [&] {
        for (int k = 0; k < 64; ++k)
            emit queued.fired(1);
        QCoreApplication::processEvents();
    });
    if (acc == 0) {
        std::fprintf(stderr, "no slot ran\n");
        return 1;
    }

    Sender cd;
    for (int k = 0; k < 3; ++k)
        QObject::connect(&cd, &Sender::fired, &cd, body);
    double conn = best(2000000, 1, [&] {
        auto c = QObject::connect(&cd, &Sender::fired, &cd, [](quint64 x) { keep(x); });
        if (!QObject::disconnect(c))
            std::abort();
    });

    Receiver member_target;
    member_target.acc = &acc;
    double conn_member = best(2000000, 1, [&] {
        auto c = QObject::connect(&cd, &Sender::fired, &member_target, &Receiver::on);
        if (!QObject::disconnect(c))
            std::abort();
    });

    for (int i = 0; i < 3; ++i)
        std::printf("qt_floor_%d %.2f\n", counts[i], floor_ns[i]);
    std::printf("qt_emit_0 %.2f\n", emit0);
    for (int i = 0; i < 3; ++i)
        std::printf("qt_emit_%d %.2f\n", counts[i], emit_ns[i]);
    for (int i = 0; i < 3; ++i)
        std::printf("qt_emit_member_%d %.2f\n", counts[i], member_ns[i]);
    std::printf("qt_queued_1 %.2f\n", queued1);
    std::printf("qt_connect_disconnect %.2f\n", conn);
    std::printf("qt_connect_disconnect_member %.2f\n", conn_member);
    return 0;
}

#include "signals.moc"
