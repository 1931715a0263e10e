//! Kubelet versions: what a node reports and what the `minKubeletVersion` setting names.

use std::fmt;

/// A Kubernetes `MAJOR.MINOR` version. Only these two parts decide: patch releases and vendor
/// suffixes (`-eks-…`, `+k3s1`, `-gke.…`) do not change what a kubelet supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KubeletVersion {
    pub major: u32,
    pub minor: u32,
}

impl KubeletVersion {
    /// Sidecar containers are GA from 1.33: Istio's minimum, and the default `minKubeletVersion`.
    pub const DEFAULT_MINIMUM: KubeletVersion = KubeletVersion::new(1, 33);
    /// Sidecar containers are beta and on by default from 1.29: nothing lower can be a minimum.
    pub const LOWEST_MINIMUM: KubeletVersion = KubeletVersion::new(1, 29);

    pub const fn new(major: u32, minor: u32) -> KubeletVersion {
        KubeletVersion { major, minor }
    }

    /// A node's `kubeletVersion` (`v1.33.5-eks-3025e55`, `v1.32.9+k3s1`, `1.31`): an optional `v`,
    /// the major and minor numbers, then the end or anything that does not continue the minor.
    /// `None` for anything else, which the rule counts as too old.
    pub fn from_kubelet(text: &str) -> Option<KubeletVersion> {
        KubeletVersion::from_kubelet_bytes(text.as_bytes())
    }

    /// [`KubeletVersion::from_kubelet`] on the version's bytes, as the node reader finds them: in
    /// line there, where a call would return the version through memory.
    #[inline(always)]
    pub(crate) fn from_kubelet_bytes(text: &[u8]) -> Option<KubeletVersion> {
        let text = text.strip_prefix(b"v").unwrap_or(text);
        let (major, rest) = leading_number(text)?;
        let (minor, rest) = leading_number(rest.strip_prefix(b".")?)?;
        match rest.first() {
            None | Some(b'.' | b'-' | b'+') => Some(KubeletVersion::new(major, minor)),
            Some(_) => None,
        }
    }

    /// The `minKubeletVersion` setting: exactly `MAJOR.MINOR`.
    pub(crate) fn from_setting(text: &str) -> Option<KubeletVersion> {
        let (major, rest) = leading_number(text.as_bytes())?;
        let (minor, rest) = leading_number(rest.strip_prefix(b".")?)?;
        rest.is_empty().then_some(KubeletVersion::new(major, minor))
    }
}

impl fmt::Display for KubeletVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// The decimal number at the start of `text` and what follows it. No sign, no leading `+`, and
/// at most what fits a `u32`. In line: the node reader parses every node's version, and a call
/// would return the pair through memory.
#[inline(always)]
fn leading_number(text: &[u8]) -> Option<(u32, &[u8])> {
    let mut number = 0u32;
    let mut digits = 0;
    // Indexed: a slice iterator here was a call per number in the module, not a loop in line.
    while let Some(digit) = text.get(digits).map(|byte| byte.wrapping_sub(b'0')) {
        if digit > 9 {
            break;
        }
        number = number.checked_mul(10)?.checked_add(u32::from(digit))?;
        digits += 1;
    }
    (digits > 0).then_some(number).zip(text.get(digits..))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::plain("v1.33.0", Some((1, 33)))]
    #[case::eks("v1.33.5-eks-3025e55", Some((1, 33)))]
    #[case::k3s("v1.32.9+k3s1", Some((1, 32)))]
    #[case::gke("v1.28.15-gke.1503000", Some((1, 28)))]
    #[case::no_v("1.34.1", Some((1, 34)))]
    #[case::no_patch("v1.30", Some((1, 30)))]
    #[case::empty("", None)]
    #[case::garbage("garbage", None)]
    #[case::only_v("v", None)]
    #[case::major_only("v1", None)]
    #[case::no_minor("v1.", None)]
    #[case::minor_glued("v1.33beta", None)]
    #[case::huge("v1.99999999999", None)]
    #[case::signed("v1.+33", None)]
    fn kubelet_versions(#[case] text: &str, #[case] expected: Option<(u32, u32)>) {
        assert_eq!(
            KubeletVersion::from_kubelet(text),
            expected.map(|(major, minor)| KubeletVersion::new(major, minor))
        );
    }

    #[rstest]
    #[case("1.33", Some((1, 33)))]
    #[case("1.29", Some((1, 29)))]
    #[case("v1.33", None)]
    #[case("1.33.0", None)]
    #[case("1", None)]
    #[case("1.33 ", None)]
    fn setting_versions(#[case] text: &str, #[case] expected: Option<(u32, u32)>) {
        assert_eq!(
            KubeletVersion::from_setting(text),
            expected.map(|(major, minor)| KubeletVersion::new(major, minor))
        );
    }
}
