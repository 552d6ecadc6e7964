//! `jialing qr LOT`: the lot's traceability code, a QR code (PNG and SVG) holding its
//! GS1 Digital Link URL `{base}/01/{GTIN-14}/10/{lot}` (the ledger's own product code
//! in place of the GTIN when the product has none), which the node resolves to the
//! consumer page. The URL carries the chain's fingerprint (`?chain=`, the first 12 bytes
//! of the genesis block hash, which GS1 resolvers ignore): the page's in-browser check
//! starts from it, not from anything the node says.

use std::path::{Path, PathBuf};

use clap::Args;
use qrcode::{Color, EcLevel, QrCode};
use serde_json::json;

use crate::error::ClientError;
use crate::output::Output;
use crate::sdk::Client;

/// `jialing qr` arguments.
#[derive(Debug, Args)]
pub struct QrArgs {
    /// The lot id.
    pub lot: String,
    /// Resolver base URL printed in the code (default: the node's URL).
    #[arg(long)]
    pub base: Option<String>,
    /// Directory for `<lot>.png` and `<lot>.svg`.
    #[arg(long, default_value = ".")]
    pub out: PathBuf,
    /// Pixels per QR module in the PNG.
    #[arg(long, default_value_t = 8)]
    pub scale: u32,
    /// The network's genesis file: the fingerprint is computed from it (without it,
    /// from the genesis header the node serves, hashed here).
    #[arg(long, env = "JIALING_GENESIS", value_name = "FILE")]
    pub genesis: Option<PathBuf>,
}

/// The chain fingerprint: from the genesis file, else from the node's block 0.
pub fn chain_fingerprint(genesis: Option<&Path>, client: &Client) -> Result<String, ClientError> {
    let header = match genesis {
        Some(path) => {
            let g = jialing_genesis::Genesis::load(path)
                .map_err(|e| ClientError::Args(format!("genesis file {}: {e}", path.display())))?;
            g.initial_state()
                .genesis_block()
                .map_err(|e| ClientError::Args(format!("genesis file {}: {e}", path.display())))?
                .0
        }
        None => {
            let v = client.get_json("/v1/block/0")?;
            jialing_core::chain_identity::genesis_header::deserialize(&v["header"])
                .map_err(|e| ClientError::Decode { what: "genesis header".into(), reason: e.to_string() })?
        }
    };
    if header.height != 0 {
        return Err(ClientError::Decode { what: "genesis header".into(), reason: "not at height 0".into() });
    }
    Ok(jialing_core::chain_identity::fingerprint(&header.hash()))
}

/// The Digital Link URL of a lot of `product`.
pub fn digital_link(base: &str, product: &str, lot: &str) -> String {
    format!("{}{}", base.trim_end_matches('/'), jialing_contracts::trace::epcis::digital_link_path(product, lot))
}

/// Writes the QR code of `url` as PNG (quiet zone of 4 modules) and SVG.
pub fn write_qr(url: &str, png_path: &Path, svg_path: &Path, scale: u32) -> Result<(), ClientError> {
    let code = QrCode::with_error_correction_level(url.as_bytes(), EcLevel::M)
        .map_err(|e| ClientError::Args(format!("cannot encode {url} as a QR code: {e}")))?;
    let svg = code.render::<qrcode::render::svg::Color>().min_dimensions(256, 256).quiet_zone(true).build();
    let io = |p: &Path| {
        let p = p.to_path_buf();
        move |e: std::io::Error| ClientError::Io { path: p, source: e }
    };
    std::fs::write(svg_path, svg).map_err(io(svg_path))?;
    let w = code.width() as u32;
    let scale = scale.clamp(1, 64);
    let side = (w + 8) * scale;
    let colors = code.to_colors();
    let mut pixels = vec![255u8; (side * side) as usize];
    for y in 0..w {
        for x in 0..w {
            if colors[(y * w + x) as usize] == Color::Dark {
                for dy in 0..scale {
                    let row = ((y + 4) * scale + dy) * side;
                    for dx in 0..scale {
                        pixels[(row + (x + 4) * scale + dx) as usize] = 0;
                    }
                }
            }
        }
    }
    let file = std::fs::File::create(png_path).map_err(io(png_path))?;
    let mut enc = png::Encoder::new(std::io::BufWriter::new(file), side, side);
    enc.set_color(png::ColorType::Grayscale);
    enc.set_depth(png::BitDepth::Eight);
    let png_err = |e: png::EncodingError| ClientError::Args(format!("writing {}: {e}", png_path.display()));
    let mut writer = enc.write_header().map_err(png_err)?;
    writer.write_image_data(&pixels).map_err(png_err)?;
    writer.finish().map_err(png_err)?;
    Ok(())
}

/// Runs `jialing qr`.
pub fn run(a: &QrArgs, client: &Client, out: Output) -> Result<(), ClientError> {
    let v = client.get_json(&format!("/v1/lot/{}", a.lot))?;
    let product = v["lot"]["product"]
        .as_str()
        .ok_or_else(|| ClientError::Decode { what: "lot".into(), reason: "no product code".into() })?
        .to_string();
    let fingerprint = chain_fingerprint(a.genesis.as_deref(), client)?;
    let url =
        format!("{}?chain={fingerprint}", digital_link(a.base.as_deref().unwrap_or(client.url()), &product, &a.lot));
    std::fs::create_dir_all(&a.out).map_err(|e| ClientError::Io { path: a.out.clone(), source: e })?;
    let stem: String =
        a.lot.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect();
    let png_path = a.out.join(format!("{stem}.png"));
    let svg_path = a.out.join(format!("{stem}.svg"));
    write_qr(&url, &png_path, &svg_path, a.scale)?;
    let j = json!({ "url": url, "fingerprint": fingerprint, "png": png_path, "svg": svg_path });
    out.emit(&j, || {
        format!("{url}\n  chain fingerprint {fingerprint}\n  {}\n  {}", png_path.display(), svg_path.display())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_pad_gtins_and_escape_lots() {
        assert_eq!(digital_link("http://n/", "6901234567892", "A 1/2"), "http://n/01/06901234567892/10/A%201%2F2");
        assert_eq!(digital_link("http://n", "FD-OWN", "L1"), "http://n/01/FD-OWN/10/L1");
    }

    #[test]
    fn writes_png_and_svg() {
        let d = tempfile::tempdir().unwrap();
        let (p, s) = (d.path().join("a.png"), d.path().join("a.svg"));
        write_qr("http://127.0.0.1:8704/01/06901234567892/10/L1", &p, &s, 4).unwrap();
        let png = std::fs::read(&p).unwrap();
        assert_eq!(&png[1..4], b"PNG");
        assert!(std::fs::read_to_string(&s).unwrap().contains("<svg"));
    }
}
