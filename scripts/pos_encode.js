// Encode receipt print plans with two real POS printing libraries, for
// scripts/make_pos_corpus.py:
//   node pos_encode.js plans.json outdir
// Encoders: "rpe:<printerModel>" (@point-of-sale/receipt-printer-encoder: ESC/POS, Star
// Line Mode or StarPRNT per printer model, its own code-page choice) and
// "escbuf:<model>" (escpos-buffer, GrandChef's library: Epson, Bematech, Elgin, Daruma,
// ControliD... profiles). Ops: text s | bold s | big s | center s | sep | row [[s, width,
// align], ...] | qr data | cut | raw [bytes] | cjk codec s (text in a CJK encoding, as a
// POS in Kanji mode sends it).
'use strict';
const fs = require('fs');
const path = require('path');

const [plansFile, outDir] = process.argv.slice(2);
const plans = JSON.parse(fs.readFileSync(plansFile, 'utf8'));

function pad(cells) {
  return cells.map(([s, width, align]) => {
    const t = s.length > width ? s.slice(0, width) : s;
    return align === 'right' ? t.padStart(width) : t.padEnd(width);
  }).join('').replace(/\s+$/, '');
}

function rpe(plan, model) {
  const Encoder = require('@point-of-sale/receipt-printer-encoder');
  const iconv = require('iconv-lite');
  const e = new Encoder({ printerModel: model, columns: plan.width });
  e.initialize().codepage('auto');
  for (const [op, a, b] of plan.ops) {
    if (op === 'text') e.line(a);
    else if (op === 'bold') e.bold(true).line(a).bold(false);
    else if (op === 'big') e.bold(true).height(2).line(a).height(1).bold(false);
    else if (op === 'center') e.align('center').line(a).align('left');
    else if (op === 'sep') e.rule({ style: 'single' });
    else if (op === 'row') {
      const columns = a.map(([, width, align]) => ({ width, align }));
      e.table(columns, [a.map(([s]) => s)]);
    } else if (op === 'qr') e.qrcode(a);
    else if (op === 'cut') e.cut('partial');
    else if (op === 'raw') e.raw(a);
    else if (op === 'cjk') e.raw([...iconv.encode(b, a), 0x0a]);
  }
  return Buffer.from(e.encode());
}

async function escbuf(plan, model) {
  const { Printer, InMemory, Style, Align } = require('escpos-buffer');
  const iconv = require('iconv-lite');
  const connection = new InMemory();
  const p = await Printer.CONNECT(model, connection);
  if (plan.codepage_name) await p.setCodepage(plan.codepage_name);
  for (const [op, a, b] of plan.ops) {
    if (op === 'text') await p.writeln(a);
    else if (op === 'bold') await p.writeln(a, Style.Bold);
    else if (op === 'big') await p.writeln(a, Style.Bold | Style.DoubleHeight);
    else if (op === 'center') await p.writeln(a, 0, Align.Center);
    else if (op === 'sep') await p.writeln('-'.repeat(plan.width));
    else if (op === 'row') await p.writeln(pad(a));
    else if (op === 'qr') { try { await p.qrcode(a); } catch (e) { /* a model that draws QR codes as images: none */ } }
    else if (op === 'cut') await p.cutter();
    else if (op === 'raw') await connection.write(Buffer.from(a));
    else if (op === 'cjk') await connection.write(Buffer.concat([iconv.encode(b, a), Buffer.from('\r\n')]));
  }
  return connection.buffer();
}

async function main() {
  for (const plan of plans) {
    const [kind, model] = plan.encoder.split(':');
    const data = kind === 'rpe' ? rpe(plan, model) : await escbuf(plan, model);
    fs.writeFileSync(path.join(outDir, plan.id + '.bin'), data);
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
