//! RS256 JSON Web Tokens signed with an RSA private key, for the logins that prove a key
//! instead of sending a password: Snowflake's key-pair authentication and a Google service
//! account's token request. The signature is ring's (the crypto rustls already runs on); this
//! module adds only PEM reading, the token's three parts, and the public key's fingerprint.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use ring::signature::{KeyPair, RsaKeyPair, RSA_PKCS1_SHA256};
use serde_json::Value;

/// An RSA private key, ready to sign tokens.
pub(crate) struct Signer {
    key: RsaKeyPair,
}

impl Signer {
    /// Reads a PEM private key: PKCS#8 (`BEGIN PRIVATE KEY`) or PKCS#1 (`BEGIN RSA PRIVATE
    /// KEY`). A key kept on one line with `\n` written out (as some secret stores keep it) is
    /// read too. An encrypted key is refused with what to do: Canopy holds no passphrase.
    pub(crate) fn from_pem(pem: &str) -> Result<Signer, String> {
        let pem = pem.replace("\\n", "\n");
        let (label, der) = pem_block(&pem)?;
        let key = match label {
            "PRIVATE KEY" => RsaKeyPair::from_pkcs8(&der),
            "RSA PRIVATE KEY" => RsaKeyPair::from_der(&der),
            "ENCRYPTED PRIVATE KEY" => return Err("the private key is encrypted; give it decrypted (`openssl pkcs8 -in key.p8 -out key.pem`), kept in the secret store instead of behind a passphrase".into()),
            other => return Err(format!("expected an RSA private key in PEM, found `BEGIN {other}`")),
        };
        let key = key.map_err(|e| {
            format!("the private key is not an RSA key ring accepts (2048 to 8192 bits): {e}")
        })?;
        Ok(Signer { key })
    }

    /// The token of `header` and `claims`: their JSON in base64url, and the RS256 signature
    /// of both.
    pub(crate) fn token(&self, header: &Value, claims: &Value) -> Result<String, String> {
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut signature = vec![0; self.key.public().modulus_len()];
        let rng = ring::rand::SystemRandom::new();
        self.key
            .sign(
                &RSA_PKCS1_SHA256,
                &rng,
                signing_input.as_bytes(),
                &mut signature,
            )
            .map_err(|_| "the private key could not sign".to_string())?;
        Ok(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature)
        ))
    }

    /// `SHA256:` and the base64 SHA-256 of the public key's DER SubjectPublicKeyInfo: how
    /// Snowflake names the key a user registered (`DESC USER` shows the same).
    pub(crate) fn fingerprint(&self) -> String {
        let digest = ring::digest::digest(
            &ring::digest::SHA256,
            &subject_public_key_info(self.key.public_key().as_ref()),
        );
        format!("SHA256:{}", STANDARD.encode(digest))
    }
}

/// The label and the bytes of the first PEM block in `pem`.
fn pem_block(pem: &str) -> Result<(&str, Vec<u8>), String> {
    let begin = pem
        .find("-----BEGIN ")
        .ok_or("the private key is not PEM (no `-----BEGIN` line)")?;
    let rest = &pem[begin + "-----BEGIN ".len()..];
    let label_end = rest.find("-----").ok_or("the PEM `BEGIN` line is cut")?;
    let label = &rest[..label_end];
    let body = &rest[label_end + 5..];
    let end = body
        .find("-----END ")
        .ok_or("the PEM block has no `-----END` line")?;
    let text: String = body[..end].split_whitespace().collect();
    let der = STANDARD
        .decode(text)
        .map_err(|_| "the PEM block is not base64".to_string())?;
    Ok((label, der))
}

/// The DER SubjectPublicKeyInfo of an RSA public key given as DER RSAPublicKey: the
/// algorithm (rsaEncryption, NULL parameters) and the key as a bit string.
fn subject_public_key_info(rsa_public_key: &[u8]) -> Vec<u8> {
    const RSA_ENCRYPTION: [u8; 15] = [
        0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
    ];
    let mut bits = vec![0u8];
    bits.extend_from_slice(rsa_public_key);
    let mut inner = RSA_ENCRYPTION.to_vec();
    inner.extend(der(0x03, &bits));
    der(0x30, &inner)
}

/// A DER element: its tag, its length (short or long form), its content.
fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|&b| b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_lengths_take_the_short_or_long_form() {
        assert_eq!(der(0x04, &[1, 2]), [0x04, 2, 1, 2]);
        let long = der(0x04, &[0; 300]);
        assert_eq!(&long[..4], [0x04, 0x82, 0x01, 0x2c]);
        assert_eq!(long.len(), 304);
    }

    #[test]
    fn keys_that_are_not_plain_rsa_pem_are_refused_with_what_to_do() {
        for (pem, words) in [
            ("not a key", "not PEM"),
            (
                "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----",
                "encrypted",
            ),
            (
                "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----",
                "found `BEGIN PUBLIC KEY`",
            ),
            (
                "-----BEGIN PRIVATE KEY-----\n!!!\n-----END PRIVATE KEY-----",
                "not base64",
            ),
            (
                "-----BEGIN PRIVATE KEY-----\\nAAAA\\n-----END PRIVATE KEY-----",
                "not an RSA key",
            ),
        ] {
            let e = Signer::from_pem(pem).err().unwrap();
            assert!(e.contains(words), "{pem}: {e}");
        }
    }
}
