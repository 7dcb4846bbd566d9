//! What people type (SPEC §3): account ids, activation keys and addresses are NFKC-normalised and
//! trimmed before they are checked, so that full-width input from a Japanese IME (`１２３`,
//! `ｔａｒｏ`, `２ＶＮＤ－…`) means what it shows. Passwords are never altered.

use unicode_normalization::UnicodeNormalization;

/// `raw` in NFKC, without surrounding white space (the ideographic space U+3000 included).
pub fn identifier(raw: &str) -> String {
    raw.nfkc().collect::<String>().trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_width_input_means_what_it_shows() {
        assert_eq!(identifier("１０００００００１６"), "1000000016");
        assert_eq!(identifier("\u{3000}ｔａｒｏ．ｔｏｄａｉ "), "taro.todai");
        assert_eq!(identifier("２ＶＮＤ－７ＱＡ２"), "2VND-7QA2");
        assert_eq!(identifier("taro@ｅｘａｍｐｌｅ．ｊｐ"), "taro@example.jp");
        // Letters that only look alike are not folded: the address rule refuses them.
        assert_eq!(identifier("tаro"), "tаro");
    }
}
