//! PRC resident identity numbers (GB 11643-1999): 18 characters, a six-digit region
//! code, the birth date `YYYYMMDD`, a three-digit sequence and a check character
//! (ISO 7064 MOD 11-2: `0`-`9` or `X`). The ledger must never carry one in clear: a
//! person is named by a salted hash. [`is_resident_id`] recognises one.

/// Weights of the first 17 digits (2^(17-i) mod 11).
const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
/// Check character by weighted sum mod 11.
const CHECK: [u8; 11] = *b"10X98765432";

/// Whether `s` is a well-formed resident ID number: 17 digits and a check character
/// (`X` in either case) that matches, with a plausible birth date (year 1900 to 2099,
/// month 1 to 12, day 1 to 31) and a region code not starting with 0 or 9.
pub fn is_resident_id(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 18 || !b[..17].iter().all(u8::is_ascii_digit) {
        return false;
    }
    let d = |i: usize| u32::from(b[i] - b'0');
    let num = |from: usize, to: usize| (from..to).fold(0, |acc, i| acc * 10 + d(i));
    let (year, month, day) = (num(6, 10), num(10, 12), num(12, 14));
    if !(1..=8).contains(&d(0))
        || !(1900..=2099).contains(&year)
        || !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
    {
        return false;
    }
    let sum: u32 = (0..17).map(|i| d(i) * WEIGHTS[i]).sum();
    b[17].to_ascii_uppercase() == CHECK[(sum % 11) as usize]
}

/// The resident ID numbers in free text (tokens of letters and digits).
pub fn find_in_text(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !c.is_ascii_alphanumeric()).filter(|t| is_resident_id(t))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_numbers_check_and_altered_ones_do_not() {
        // The GB 11643 sample number.
        assert!(is_resident_id("11010519491231002X"));
        assert!(is_resident_id("11010519491231002x"));
        assert!(!is_resident_id("110105194912310021"), "wrong check character");
        assert!(!is_resident_id("11010519491331002X"), "month 13");
        assert!(!is_resident_id("1101051949123100X"), "17 characters");
        assert!(!is_resident_id("91500230MA5U10003N"), "a USCC");
        assert_eq!(find_in_text("fined; ID 11010519491231002X, paid").collect::<Vec<_>>(), ["11010519491231002X"]);
    }

    proptest! {
        #[test]
        fn one_changed_digit_breaks_the_check(pos in 0usize..17, delta in 1u8..10) {
            let mut b = b"11010519491231002X".to_vec();
            b[pos] = b'0' + (b[pos] - b'0' + delta) % 10;
            let s = String::from_utf8(b).unwrap_or_default();
            prop_assert!(!is_resident_id(&s));
        }
    }
}
