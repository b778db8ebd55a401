//! Throttling of failed device-token guesses per source address: after
//! [`TokenThrottle::max_failures`] unknown tokens from one address within a
//! window, that address's device requests are answered 429
//! `too-many-failed-tokens` (with `Retry-After`) until the window ends,
//! without looking at the token, so a blocked address learns nothing.
//! IPv6 addresses count per /64 (what one host is usually given). The
//! table is bounded: when full, windows that ended are dropped, then the
//! oldest.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failed token guesses per source address.
#[derive(Debug)]
pub struct TokenThrottle {
    max_failures: u32,
    window: Duration,
    max_addresses: usize,
    failures: Mutex<HashMap<IpAddr, Window>>,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    started: Instant,
    failures: u32,
}

impl Default for TokenThrottle {
    /// 10 failures a minute, 10 000 addresses tracked.
    fn default() -> Self {
        Self::new(10, Duration::from_secs(60), 10_000)
    }
}

impl TokenThrottle {
    /// A throttle allowing `max_failures` per `window` per address, tracking
    /// at most `max_addresses` addresses.
    pub fn new(max_failures: u32, window: Duration, max_addresses: usize) -> Self {
        Self {
            max_failures: max_failures.max(1),
            window,
            max_addresses: max_addresses.max(1),
            failures: Mutex::default(),
        }
    }

    /// Failures allowed per window.
    pub fn max_failures(&self) -> u32 {
        self.max_failures
    }

    /// The window failures are counted in.
    pub fn window(&self) -> Duration {
        self.window
    }

    /// How long `address` must wait before its next device request, if it
    /// is blocked now.
    pub fn blocked(&self, address: IpAddr, now: Instant) -> Option<Duration> {
        let failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let window = failures.get(&source(address))?;
        let ends = window.started + self.window;
        (window.failures >= self.max_failures && now < ends).then(|| ends - now)
    }

    /// Counts a failed guess from `address`.
    pub fn failed(&self, address: IpAddr, now: Instant) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let key = source(address);
        if !failures.contains_key(&key) && failures.len() >= self.max_addresses {
            failures.retain(|_, w| now < w.started + self.window);
            if failures.len() >= self.max_addresses {
                let oldest = failures.iter().min_by_key(|(_, w)| w.started).map(|(a, _)| *a);
                if let Some(oldest) = oldest {
                    failures.remove(&oldest);
                }
            }
        }
        let window = failures.entry(key).or_insert(Window { started: now, failures: 0 });
        if now >= window.started + self.window {
            *window = Window { started: now, failures: 0 };
        }
        window.failures = window.failures.saturating_add(1);
    }

    /// Addresses tracked now.
    pub fn tracked(&self) -> usize {
        self.failures.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

/// The unit failures count against: the address, or an IPv6 /64.
fn source(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_counted_per_address_within_a_window() {
        let throttle = TokenThrottle::new(3, Duration::from_secs(60), 100);
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().expect("ip"), "10.0.0.2".parse().expect("ip"));
        let t0 = Instant::now();
        for i in 0..3 {
            assert_eq!(throttle.blocked(a, t0), None, "blocked after {i} failures");
            throttle.failed(a, t0);
        }
        assert_eq!(throttle.blocked(a, t0 + Duration::from_secs(20)), Some(Duration::from_secs(40)));
        assert_eq!(throttle.blocked(b, t0), None, "another address is not blocked");
        assert_eq!(throttle.blocked(a, t0 + Duration::from_secs(60)), None, "the window ended");
        throttle.failed(a, t0 + Duration::from_secs(61));
        assert_eq!(throttle.blocked(a, t0 + Duration::from_secs(61)), None, "a new window starts from zero");
        // One IPv6 host's /64 counts as one source.
        let (v6a, v6b): (IpAddr, IpAddr) = ("2001:db8::1".parse().expect("ip"), "2001:db8::2".parse().expect("ip"));
        for _ in 0..3 {
            throttle.failed(v6a, t0);
        }
        assert!(throttle.blocked(v6b, t0).is_some());
    }

    #[test]
    fn the_table_is_bounded() {
        let throttle = TokenThrottle::new(2, Duration::from_secs(60), 4);
        let t0 = Instant::now();
        for i in 0..100u8 {
            throttle.failed(IpAddr::from([10, 0, 0, i]), t0 + Duration::from_millis(u64::from(i)));
        }
        assert_eq!(throttle.tracked(), 4);
    }
}
