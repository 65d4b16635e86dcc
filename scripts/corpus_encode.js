// Encode receipt print plans with the Node encoders, for scripts/make_receipt_corpus.py.
//   node corpus_encode.js plans.json outdir
// Each plan: {id, encoder, width, ops: [[op, ...args]]}; writes outdir/<id>.bin.
// Ops: text s | bold s | big s | center s | sep | barcode kind data | qr data | cut
'use strict';
const fs = require('fs');
const path = require('path');

const [plansFile, outDir] = process.argv.slice(2);
const plans = JSON.parse(fs.readFileSync(plansFile, 'utf8'));

function thermal(plan, star) {
  const { printer: ThermalPrinter, types, CharacterSet } = require('node-thermal-printer');
  const p = new ThermalPrinter({
    type: star ? types.STAR : types.EPSON,
    interface: 'tcp://127.0.0.1:9',
    width: plan.width,
    characterSet: CharacterSet.PC858_EURO,
    removeSpecialCharacters: false,
  });
  for (const [op, a, b] of plan.ops) {
    if (op === 'text') p.println(a);
    else if (op === 'bold') { p.bold(true); p.println(a); p.bold(false); }
    else if (op === 'big') { p.setTextDoubleHeight(); p.bold(true); p.println(a); p.bold(false); p.setTextNormal(); }
    else if (op === 'center') { p.alignCenter(); p.println(a); p.alignLeft(); }
    else if (op === 'sep') p.drawLine();
    else if (op === 'barcode') { if (star) p.code128(b); else p.printBarcode(b, 67); p.newLine(); }
    else if (op === 'qr') { p.printQR(a); p.newLine(); }
    else if (op === 'cut') p.cut();
  }
  return p.getBuffer();
}

function escapeLine(s) {
  return s.replace(/[\\|{}~_"`^=-]/g, (c) => '\\' + c);
}

function receiptline(plan, star) {
  const rl = require('receiptline');
  const lines = [];
  for (const [op, a, b] of plan.ops) {
    if (op === 'text') lines.push('|' + escapeLine(a).replace(/ /g, '~') + ' |');
    else if (op === 'bold') lines.push('|"' + escapeLine(a).replace(/ /g, '~') + '" |');
    else if (op === 'big') lines.push('|^^' + escapeLine(a).replace(/ /g, '~') + ' |');
    else if (op === 'center') lines.push(escapeLine(a));
    else if (op === 'sep') lines.push('-');
    else if (op === 'barcode') lines.push('{code:' + b + '; option:' + (a === 'EAN13' ? 'ean' : 'code128') + ',hri}');
    else if (op === 'qr') lines.push('{code:' + a.replace(/[\\|{};]/g, (c) => '\\' + c) + '; option:qrcode,4,m}');
  }
  const out = rl.transform(lines.join('\n'), {
    cpl: plan.width, encoding: 'multilingual', command: star ? 'starlinesbcs' : 'escpos',
    cutting: true, spacing: false,
  });
  return Buffer.from(out, 'binary');
}

async function nodeEscpos(plan) {
  const { Printer } = require('@node-escpos/core');
  const chunks = [];
  const adapter = { write(data, cb) { chunks.push(Buffer.from(data)); if (cb) cb(); }, open(cb) { if (cb) cb(); } };
  const p = new Printer(adapter, { encoding: 'cp858' });
  p.setCharacterCodeTable(19);
  for (const [op, a, b] of plan.ops) {
    if (op === 'text') p.text(a);
    else if (op === 'bold') { p.style('b'); p.text(a); p.style('normal'); }
    else if (op === 'big') { p.size(1, 2); p.text(a); p.size(1, 1); }
    else if (op === 'center') { p.align('ct'); p.text(a); p.align('lt'); }
    else if (op === 'sep') p.drawLine();
    else if (op === 'barcode') p.barcode(a === 'EAN13' ? b.slice(0, 12) : b, a === 'EAN13' ? 'EAN13' : 'CODE128', { width: 2, height: 50 });
    else if (op === 'qr') p.qrcode(a);
    else if (op === 'cut') p.cut();
  }
  await p.flush();
  return Buffer.concat(chunks);
}

async function main() {
  for (const plan of plans) {
    let data;
    if (plan.encoder === 'ntp-epson') data = thermal(plan, false);
    else if (plan.encoder === 'ntp-star') data = thermal(plan, true);
    else if (plan.encoder === 'receiptline-escpos') data = receiptline(plan, false);
    else if (plan.encoder === 'receiptline-star') data = receiptline(plan, true);
    else if (plan.encoder === 'node-escpos') data = await nodeEscpos(plan);
    else throw new Error('unknown encoder ' + plan.encoder);
    fs.writeFileSync(path.join(outDir, plan.id + '.bin'), data);
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
