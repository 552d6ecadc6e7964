//! The consumer page: what a shopper sees after scanning a lot's QR code.
//!
//! The QR code holds a GS1 Digital Link URL, `/01/{GTIN-14}/10/{lot}` (or the ledger's
//! own product code in place of the GTIN). The node resolves it to a mobile-first HTML
//! page, Chinese by default with an English switch (`?lang=en`), without login and
//! without JavaScript: product, origin, producer and contact, harvest date, certificate
//! of compliance, test results, custody timeline, processing inputs (linked), recall
//! status in large type, and where the record is on the ledger (block, time, how many of
//! how many validators signed). With JavaScript the page loads the verifier
//! (`node/assets/verify.js`, served by `assets` under a content-hashed name) which
//! trusts only the chain fingerprint in the scanned code (`?chain=`): it proves the
//! validator sets from genesis, the lot's latest event and its current record under a
//! recent certified block (`/v1/proof/lot/{id}`), and how old that block is.
//!
//! Unknown lots get a 404 page, malformed codes (bad GTIN check digit, bad lot id) a 400
//! page; nothing a scanner sends yields a 500.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use jialing_contracts::membership::{Member, Organisation};
use jialing_contracts::trace::types::{CertificateBasis, Lot, LotStatus, Product};
use jialing_contracts::trace::{lot_key, product_key};
use jialing_contracts::{IndexTag, StateView, TagKind, keys};
use jialing_core::{PublicKey, Uscc, encoding};
use serde::Deserialize;

use crate::api::Api;
use crate::app::Ledger;
use jialing_api_types::{HistoryEntry, Outcome};

/// Rendered pages, keyed by lot and language, valid while the lot's state is unchanged
/// (at most a minute, so organisation names and contacts stay fresh).
#[derive(Default)]
pub struct PageCache {
    pages: std::sync::Mutex<PageMap>,
}

type PageMap = BTreeMap<(String, bool), (jialing_core::Hash, std::time::Instant, std::sync::Arc<String>)>;

/// Most cached pages.
const PAGE_CACHE_MAX: usize = 4096;
/// Longest a cached page is served.
const PAGE_CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(60);

/// Language of the page.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Lang {
    Zh,
    En,
}

/// Query of the consumer page.
#[derive(Deserialize, Default)]
pub struct PageQuery {
    lang: Option<String>,
    /// The chain fingerprint the code carries (read by the page's script; kept in the
    /// language link).
    chain: Option<String>,
}

/// Why a scanned code cannot be shown.
#[derive(Debug, PartialEq, Eq)]
pub enum CodeError {
    /// Malformed (400).
    Malformed(String),
    /// Well-formed but not on the ledger (404).
    Unknown(String),
}

/// Whether `s` is a GTIN-14 with a correct GS1 check digit.
pub fn gtin14_valid(s: &str) -> bool {
    if s.len() != 14 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let d: Vec<u32> = s.bytes().map(|b| (b - b'0') as u32).collect();
    let sum: u32 = d[..13].iter().enumerate().map(|(i, x)| if i % 2 == 0 { x * 3 } else { *x }).sum();
    (10 - sum % 10) % 10 == d[13]
}

/// Checks a scanned (already percent-decoded) item and lot and returns the product code
/// as the ledger stores it and the lot id.
pub fn parse_code(item: &str, lot: &str) -> Result<(), CodeError> {
    if item.is_empty() || item.len() > 64 {
        return Err(CodeError::Malformed("the product part of the code is empty or too long".into()));
    }
    if item.bytes().all(|b| b.is_ascii_digit()) && !gtin14_valid(item) {
        return Err(CodeError::Malformed(format!(
            "{item} is not a valid GTIN-14 (14 digits with a correct check digit)"
        )));
    }
    jialing_contracts::trace::rules::id_format("lot id", lot).map_err(|e| CodeError::Malformed(e.to_string()))?;
    Ok(())
}

fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

fn t(lang: Lang, zh: &'static str, en: &'static str) -> &'static str {
    if lang == Lang::Zh { zh } else { en }
}

fn date(ms: u64) -> String {
    // China Standard Time, what the label on the fruit means.
    let s = jialing_core::calendar::format_rfc3339_ms(ms.saturating_add(8 * 3600 * 1000));
    s.get(..10).unwrap_or(&s).to_string()
}

fn datetime(ms: u64) -> String {
    let s = jialing_core::calendar::format_rfc3339_ms(ms.saturating_add(8 * 3600 * 1000));
    s.get(..16).map(|x| x.replace('T', " ")).unwrap_or(s)
}

fn read<T: borsh::BorshDeserialize>(ledger: &Ledger, key: &[u8]) -> Option<T> {
    let b = ledger.store.get(key).ok()??;
    encoding::decode("state", &b).ok()
}

struct Orgs<'a> {
    ledger: &'a Ledger,
    cache: BTreeMap<String, Option<Organisation>>,
}

impl Orgs<'_> {
    fn get(&mut self, u: &Uscc) -> Option<Organisation> {
        let ledger = self.ledger;
        self.cache.entry(u.as_str().to_string()).or_insert_with(|| read(ledger, &keys::org(u))).clone()
    }

    fn name(&mut self, u: &Uscc) -> String {
        self.get(u).map(|o| o.name).unwrap_or_else(|| u.as_str().to_string())
    }

    fn of_signer(&mut self, k: &PublicKey) -> String {
        match read::<Member>(self.ledger, &keys::member(k)) {
            Some(m) => self.name(&m.org),
            None => {
                // An organisation admin signs as itself.
                k.short()
            }
        }
    }
}

fn event_label(lang: Lang, method: &str) -> &'static str {
    match method {
        "create_lot" => t(lang, "建档（批次登记）", "Lot registered"),
        "record_input" => t(lang, "农事投入品", "Farming input"),
        "harvest" => t(lang, "采收", "Harvested"),
        "record_test" => t(lang, "检测", "Laboratory test"),
        "issue_certificate" => t(lang, "开具承诺达标合格证", "Certificate of compliance"),
        "ship" => t(lang, "发货", "Shipped"),
        "receive" => t(lang, "收货", "Received"),
        "sell" => t(lang, "销售", "Sold"),
        "recall" => t(lang, "召回", "RECALLED"),
        "hold" => t(lang, "暂扣", "Held"),
        "release" => t(lang, "解除暂扣", "Released"),
        "destroy" => t(lang, "销毁", "Destroyed"),
        "transform" => t(lang, "加工", "Processed"),
        "pack" => t(lang, "包装", "Packed"),
        "declare_error" => t(lang, "更正声明", "Correction"),
        "record_epcis_event" => t(lang, "合作方 EPCIS 事件", "Partner EPCIS event"),
        "epcis_capture" => t(lang, "合作方 EPCIS 采集", "Partner EPCIS capture"),
        _ => t(lang, "事件", "Event"),
    }
}

fn basis(lang: Lang, b: CertificateBasis) -> &'static str {
    match b {
        CertificateBasis::OwnControl => t(lang, "自我质量控制", "own quality control"),
        CertificateBasis::OwnTest => t(lang, "自行检测合格", "own test passed"),
        CertificateBasis::CommissionedTest => t(lang, "委托检测合格", "commissioned laboratory test passed"),
    }
}

fn status_label(lang: Lang, s: LotStatus) -> &'static str {
    match s {
        LotStatus::Commissioned => t(lang, "生产中", "in production"),
        LotStatus::Harvested => t(lang, "已采收", "harvested"),
        LotStatus::InTransit => t(lang, "运输中", "in transit"),
        LotStatus::Received => t(lang, "已到货", "received"),
        LotStatus::Sold => t(lang, "已售出", "sold"),
        LotStatus::Recalled => t(lang, "已召回", "RECALLED"),
        LotStatus::Consumed => t(lang, "已加工", "processed"),
        LotStatus::Destroyed => t(lang, "已销毁", "destroyed"),
    }
}

/// The lot status as the verifier script names it (serde's snake case).
fn status_name(s: LotStatus) -> &'static str {
    match s {
        LotStatus::Commissioned => "commissioned",
        LotStatus::Harvested => "harvested",
        LotStatus::InTransit => "in_transit",
        LotStatus::Received => "received",
        LotStatus::Sold => "sold",
        LotStatus::Recalled => "recalled",
        LotStatus::Consumed => "consumed",
        LotStatus::Destroyed => "destroyed",
    }
}

/// What the page takes from the request and the node's settings.
struct PageOptions {
    chain: Option<String>,
    max_block_age_ms: u64,
}

/// Everything the page shows, read from the ledger.
struct PageData {
    lot: Lot,
    product: Option<Product>,
    history: Vec<HistoryEntry>,
}

fn load(ledger: &Ledger, item: &str, lot_id: &str) -> Result<PageData, CodeError> {
    let lot: Lot = read(ledger, &lot_key(lot_id))
        .ok_or_else(|| CodeError::Unknown(format!("lot {lot_id} is not on the ledger")))?;
    let product: Option<Product> = read(ledger, &product_key(&lot.product));
    let expected = jialing_contracts::trace::epcis::digital_link_path(&lot.product, lot_id);
    let given = jialing_contracts::trace::epcis::digital_link_path(item, lot_id);
    if expected != given {
        return Err(CodeError::Unknown(format!("lot {lot_id} is not a lot of product {item}")));
    }
    let tag = IndexTag { kind: TagKind::Lot, id: lot_id.to_string() };
    let history = crate::api::history(ledger, &tag, 0, 500, &crate::access::Caller::Public)
        .map_err(|e| CodeError::Unknown(e.to_string()))?;
    Ok(PageData { lot, product, history })
}

fn event_time(e: &HistoryEntry) -> u64 {
    e.args["at"]["time_ms"].as_u64().unwrap_or(e.time_ms)
}

/// Renders the page.
fn render(ledger: &Ledger, d: &PageData, lang: Lang, self_path: &str, page: &PageOptions) -> String {
    let mut orgs = Orgs { ledger, cache: BTreeMap::new() };
    let lot = &d.lot;
    let ok: Vec<&HistoryEntry> = d.history.iter().filter(|e| e.status == Outcome::Ok).collect();
    let name = d.product.as_ref().map(|p| p.name.clone()).unwrap_or_else(|| lot.product.clone());
    let producer = orgs.get(&lot.producer);
    let mut h = String::with_capacity(16 * 1024);
    let chain = page.chain.as_deref().map(|c| format!("chain={c}"));
    let other = match (lang, &chain) {
        (Lang::Zh, Some(c)) => format!("{self_path}?lang=en&{c}"),
        (Lang::Zh, None) => format!("{self_path}?lang=en"),
        (Lang::En, Some(c)) => format!("{self_path}?{c}"),
        (Lang::En, None) => self_path.to_string(),
    };
    let _ = write!(
        h,
        "<!doctype html><html lang=\"{}\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>{} · {}</title><style>{CSS}</style></head><body><main>",
        if lang == Lang::Zh { "zh-CN" } else { "en" },
        esc(&name),
        esc(&lot.id)
    );
    let _ = write!(
        h,
        "<nav><a id=\"lang\" href=\"{}\">{}</a></nav><h1 id=\"product\">{}</h1><p class=\"lot\">{} <b id=\"lot\">{}</b> · {}</p>",
        esc(&other),
        t(lang, "English", "中文"),
        esc(&name),
        t(lang, "批次", "Lot"),
        esc(&lot.id),
        esc(status_label(lang, lot.status))
    );
    if lot.status == LotStatus::Recalled {
        let _ = write!(
            h,
            "<div id=\"recall\" class=\"alarm\">{}</div>",
            t(
                lang,
                "⚠ 本批次已被召回，请勿食用，请联系购买处退货。",
                "⚠ THIS LOT HAS BEEN RECALLED. Do not eat it; return it where you bought it."
            )
        );
    } else if lot.held {
        let _ = write!(
            h,
            "<div id=\"recall\" class=\"alarm\">{}</div>",
            t(lang, "⚠ 本批次被暂扣调查中。", "⚠ This lot is on hold pending investigation.")
        );
    } else {
        let _ = write!(h, "<div id=\"recall\" class=\"fine\">{}</div>", t(lang, "未召回", "Not recalled"));
    }
    // Origin and producer.
    let o = &lot.origin;
    let _ = write!(
        h,
        "<section><h2>{}</h2><p id=\"origin\">{} {} {}</p><p id=\"producer\">{}: {}</p><p id=\"contact\">{}: {}</p>",
        t(lang, "产地与生产者", "Origin and producer"),
        esc(&o.county),
        esc(&o.township),
        esc(&o.village),
        t(lang, "生产者", "Producer"),
        esc(&producer.as_ref().map(|p| p.name.clone()).unwrap_or_else(|| lot.producer.as_str().to_string())),
        t(lang, "联系方式", "Contact"),
        esc(&producer.as_ref().map(|p| p.contact.clone()).unwrap_or_default())
    );
    if let Some(hv) = ok.iter().rev().find(|e| e.method == "harvest") {
        let _ = write!(h, "<p id=\"harvest\">{}: {}</p>", t(lang, "采收日期", "Harvest date"), date(event_time(hv)));
    }
    h.push_str("</section>");
    // Certificate of compliance.
    let _ = write!(h, "<section><h2>{}</h2>", t(lang, "承诺达标合格证", "Certificate of compliance"));
    match &lot.certificate {
        Some(c) => {
            let _ = write!(
                h,
                "<p id=\"certificate\">{}</p><p>{}: {}</p><p>{}: {}</p>",
                esc(&c.promise),
                t(lang, "依据", "Basis"),
                basis(lang, c.basis),
                t(lang, "开具日期", "Issued"),
                date(c.issued_ms)
            );
        }
        None => {
            let _ = write!(h, "<p id=\"certificate\">{}</p>", t(lang, "尚未开具", "Not issued"));
        }
    }
    h.push_str("</section>");
    // Tests.
    let _ = write!(h, "<section><h2>{}</h2><ul id=\"tests\">", t(lang, "检测结果", "Test results"));
    let mut any_test = false;
    for e in ok.iter().filter(|e| e.method == "record_test") {
        any_test = true;
        let lab = e.signer.map(|k| orgs.of_signer(&k)).unwrap_or_default();
        let items: Vec<String> = e.args["items"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|i| {
                let pass = i["pass"].as_bool().unwrap_or(false);
                format!(
                    "{} {} ({} ≤ {} {})",
                    esc(i["name"].as_str().unwrap_or("")),
                    if pass { t(lang, "合格", "pass") } else { t(lang, "不合格", "FAIL") },
                    i["measured_milli"].as_i64().unwrap_or(0) as f64 / 1000.0,
                    i["limit_milli"].as_i64().unwrap_or(0) as f64 / 1000.0,
                    esc(i["unit"].as_str().unwrap_or(""))
                )
            })
            .collect();
        let _ = write!(h, "<li>{} · {} · {}</li>", date(event_time(e)), esc(&lab), items.join("; "));
    }
    if !any_test {
        let _ = write!(h, "<li>{}</li>", t(lang, "暂无检测记录", "No test recorded"));
    }
    h.push_str("</ul></section>");
    // Farming inputs, per season; the timeline keeps the other events.
    h.push_str(&crate::consumer_inputs::section(lang == Lang::En, &ok));
    // Custody timeline.
    let _ = write!(h, "<section><h2>{}</h2><ol id=\"timeline\">", t(lang, "流转记录", "Custody timeline"));
    for e in ok.iter().filter(|e| e.method != "record_input") {
        let who = e.signer.map(|k| orgs.of_signer(&k)).unwrap_or_default();
        let _ = write!(
            h,
            "<li><time>{}</time> <b>{}</b> · {}</li>",
            datetime(event_time(e)),
            event_label(lang, &e.method),
            esc(&who)
        );
    }
    h.push_str("</ol></section>");
    // Processing inputs.
    if !lot.parents.is_empty() {
        let _ = write!(h, "<section><h2>{}</h2><ul id=\"inputs\">", t(lang, "加工原料", "Made from"));
        for p in &lot.parents {
            let path = read::<Lot>(ledger, &lot_key(p))
                .map(|pl| jialing_contracts::trace::epcis::digital_link_path(&pl.product, p))
                .unwrap_or_default();
            let q = if lang == Lang::En { "?lang=en" } else { "" };
            let _ = write!(h, "<li><a href=\"{}{q}\">{}</a></li>", esc(&path), esc(p));
        }
        h.push_str("</ul></section>");
    }
    // Verified: the latest event's block.
    let _ = write!(h, "<section id=\"verified\"><h2>{}</h2>", t(lang, "链上存证", "On the ledger"));
    if let Some(last) = ok.last() {
        let height = last.height;
        let cert = ledger.store.certificate(height).ok().flatten();
        let header = ledger.store.header(height).ok().flatten();
        let n = ledger.tip.read().map(|t| t.validators.validators.len()).unwrap_or(0);
        let k = cert.as_ref().map(|c| c.signatures.len()).unwrap_or(0);
        let _ = write!(
            h,
            "<p id=\"block\">{} {} · {}</p><p id=\"signers\">{}</p><p id=\"jscheck\" data-tx=\"{}\" data-lang=\"{}\" data-lot=\"{}\" data-status=\"{}\" data-held=\"{}\" data-max-age-ms=\"{}\">{}</p>",
            t(lang, "区块", "Block"),
            height,
            header.map(|hd| datetime(hd.time_ms)).unwrap_or_default(),
            esc(&if lang == Lang::Zh {
                format!("{n} 个验证节点中有 {k} 个签名确认")
            } else {
                format!("signed by {k} of {n} validators")
            }),
            esc(&last.tx_hash.to_hex()),
            if lang == Lang::Zh { "zh" } else { "en" },
            esc(&lot.id),
            status_name(lot.status),
            lot.held,
            page.max_block_age_ms,
            t(
                lang,
                "（启用 JavaScript 后可在本机重新验证）",
                "(with JavaScript, this page re-checks the proof on your phone)"
            )
        );
    }
    h.push_str("</section>");
    let _ = write!(h, "</main><script src=\"{}\" defer></script></body></html>", crate::assets::verify_js_path());
    h
}

fn error_page(status: StatusCode, lang: Lang, msg: &str) -> Response {
    let title = if status == StatusCode::NOT_FOUND {
        t(lang, "未找到该批次", "Lot not found")
    } else {
        t(lang, "无法识别的追溯码", "Unrecognised traceability code")
    };
    let body = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>{title}</title><style>{CSS}</style></head><body><main><h1>{title}</h1><p id=\"error\">{}</p></main></body></html>",
        esc(msg)
    );
    (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response()
}

/// `GET /01/{item}/10/{lot}`: the consumer page of a lot.
pub async fn page(
    State(api): State<Api>,
    Path((item, lot)): Path<(String, String)>,
    Query(q): Query<PageQuery>,
) -> Response {
    let lang = if q.lang.as_deref() == Some("en") { Lang::En } else { Lang::Zh };
    if let Err(e) = parse_code(&item, &lot) {
        return match e {
            CodeError::Malformed(m) => error_page(StatusCode::BAD_REQUEST, lang, &m),
            CodeError::Unknown(m) => error_page(StatusCode::NOT_FOUND, lang, &m),
        };
    }
    let ledger = api.ledger.clone();
    let cache = api.pages.clone();
    let self_path = jialing_contracts::trace::epcis::digital_link_path(&item, &lot);
    // Only a well-formed fingerprint is echoed into the page.
    let chain = q.chain.filter(|c| {
        c.len() == 2 * jialing_core::chain_identity::FINGERPRINT_BYTES && c.bytes().all(|b| b.is_ascii_hexdigit())
    });
    let options = PageOptions { chain, max_block_age_ms: api.info.consumer_max_block_age_ms };
    let render_page = move || {
        // The lot's state bytes change with every event, recall or hold.
        let version = ledger.store.get(&lot_key(&lot)).ok().flatten().map(|b| jialing_core::sha256(&b));
        // Keyed by the whole code: a page is only ever served for its own product.
        let key = (format!("{self_path}?{}", options.chain.as_deref().unwrap_or("")), lang == Lang::En);
        if let Some(v) = version
            && let Ok(pages) = cache.pages.lock()
            && let Some((h, at, html)) = pages.get(&key)
            && *h == v
            && at.elapsed() < PAGE_CACHE_TTL
        {
            return Ok(html.clone());
        }
        let html =
            std::sync::Arc::new(load(&ledger, &item, &lot).map(|d| render(&ledger, &d, lang, &self_path, &options))?);
        if let (Some(v), Ok(mut pages)) = (version, cache.pages.lock()) {
            if pages.len() >= PAGE_CACHE_MAX {
                pages.clear();
            }
            pages.insert(key, (v, std::time::Instant::now(), html.clone()));
        }
        Ok(html)
    };
    let r = crate::api::blocking(api.reads.clone(), move || Ok(render_page())).await;
    match r {
        Ok(Ok(html)) => (
            [(header::CONTENT_TYPE, "text/html; charset=utf-8"), (header::CACHE_CONTROL, "no-cache")],
            String::clone(&html),
        )
            .into_response(),
        Ok(Err(CodeError::Unknown(m))) => error_page(StatusCode::NOT_FOUND, lang, &m),
        Ok(Err(CodeError::Malformed(m))) => error_page(StatusCode::BAD_REQUEST, lang, &m),
        Err(_) => error_page(StatusCode::SERVICE_UNAVAILABLE, lang, "busy, try again"),
    }
}

/// The 400 page for a malformed Digital Link, saying what is wrong.
pub(crate) fn malformed(q: &PageQuery, msg: &str) -> Response {
    let lang = if q.lang.as_deref() == Some("en") { Lang::En } else { Lang::Zh };
    error_page(StatusCode::BAD_REQUEST, lang, msg)
}

/// Any other path under `/01/`: a clear 400 page.
pub async fn bad_code(Query(q): Query<PageQuery>) -> Response {
    let lang = if q.lang.as_deref() == Some("en") { Lang::En } else { Lang::Zh };
    error_page(
        StatusCode::BAD_REQUEST,
        lang,
        t(lang, "追溯码格式应为 /01/{商品码}/10/{批次号}", "A traceability code looks like /01/{GTIN}/10/{lot}"),
    )
}

const CSS: &str = "body{margin:0;font:16px/1.5 system-ui,-apple-system,'PingFang SC','Noto Sans CJK SC',sans-serif;background:#f6f7f4;color:#1d2a1d}main{max-width:40rem;margin:0 auto;padding:1rem}h1{font-size:1.6rem;margin:.2rem 0}h2{font-size:1.1rem;margin:.2rem 0;color:#2f5d2f}section{background:#fff;border-radius:.6rem;padding:.8rem 1rem;margin:.8rem 0;box-shadow:0 1px 2px #0001}nav{text-align:right}.lot{color:#555}.alarm{font-size:1.5rem;font-weight:700;color:#fff;background:#b00020;padding:1rem;border-radius:.6rem}.fine{color:#2f5d2f;font-weight:600}ol,ul{padding-left:1.2rem}time{color:#555}#jscheck{font-weight:600}.ok{color:#2f5d2f}.bad{color:#b00020}";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gtin_check_digits() {
        assert!(gtin14_valid("06901234567892"));
        assert!(!gtin14_valid("06901234567893"));
        assert!(!gtin14_valid("6901234567892"));
        assert!(parse_code("06901234567893", "L1").is_err());
        assert!(parse_code("06901234567892", "L1").is_ok());
        assert!(parse_code("FD-OWN", "bad lot/id").is_err());
        assert!(parse_code("", "L1").is_err());
    }

    #[test]
    fn escaping_leaves_no_markup() {
        assert_eq!(esc("<script>\"&'"), "&lt;script&gt;&quot;&amp;&#39;");
    }
}
