-- helpers.sql — session-local helpers for generate.sql and activity.sql.
-- Everything here lives in pg_temp: it disappears with the session and is
-- never part of a dump. All randomness comes from random(), so a caller that
-- runs setseed() first gets the same data every time.

SET client_min_messages = warning;
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, MDY';

-- Word lists, one per language (lang is an index; sep joins the words).
CREATE TEMP TABLE vocab (lang int PRIMARY KEY, code text NOT NULL, sep text NOT NULL, w text[] NOT NULL, n int);
INSERT INTO vocab (lang, code, sep, w) VALUES
 (0, 'en', ' ', string_to_array(
  'the a an and or but to of for with from on in at by my your our their this that these it is are was were be been '
  'will would can could should may might must do does did have has had not no yes please thanks thank you hello hi '
  'order orders delivery shipping shipped refund refunds product products price prices size sizes colour color '
  'available stock return returns policy account password login logout cart basket checkout payment card invoice '
  'receipt discount code coupon voucher help support agent chat message reply question answer issue problem '
  'fixed working broken item items package parcel arrived late early free express standard international '
  'warehouse courier tracking track number email address phone store open closed hours today tomorrow yesterday '
  'week weeks days business weekend monday friday small medium large black white blue red green leather cotton '
  'waterproof battery charger cable warranty guarantee replacement exchange cancel cancelled subscription plan '
  'upgrade downgrade monthly yearly trial invoice VAT tax total subtotal quantity backorder pre-order bundle gift '
  'wrapping sale clearance newsletter unsubscribe privacy cookies GDPR data delete export settings notification '
  'sorry unfortunately great perfect awesome okay sure right now soon asap minutes', ' ')),
 (1, 'de', ' ', string_to_array(
  'der die das und oder aber mit für von zu auf bei ich du wir Sie ihr mein meine Ihre ist sind war wäre bitte '
  'danke schön hallo guten Tag Bestellung Lieferung Versand Rückerstattung Rücksendung Artikel Größe Farbe '
  'verfügbar Lager Kundenkonto Passwort Warenkorb Kasse Zahlung Rechnung Gutschein Rabatt Hilfe Frage Antwort '
  'Problem gelöst kaputt Paket angekommen spät früh kostenlos Öffnungszeiten heute morgen Woche Werktage '
  'Straße Größenänderung Umtausch Gewährleistung Garantie Kündigung Abonnement Mehrwertsteuer Menge Geschenk '
  'grün weiß schwarz blau Übersicht Bestätigung Sendungsnummer zurück möchte können müssen dürfen leider '
  'natürlich gerne sofort Grüße', ' ')),
 (2, 'es', ' ', string_to_array(
  'el la los las y o pero con para de en por yo tú nosotros usted mi su es son fue sería por favor gracias hola '
  'buenos días pedido envío entrega reembolso devolución producto talla color disponible almacén cuenta '
  'contraseña carrito pago factura descuento cupón ayuda pregunta respuesta problema resuelto roto paquete '
  'llegó tarde pronto gratis horario hoy mañana semana año niño señor señora dirección teléfono número '
  'seguimiento garantía cancelación suscripción cantidad regalo también además ¿cuándo? ¿dónde? ¡genial! '
  'está están aquí allí', ' ')),
 (3, 'fr', ' ', string_to_array(
  'le la les et ou mais avec pour de du en par je tu nous vous mon ma votre est sont était serait merci bonjour '
  's''il vous plaît commande livraison expédition remboursement retour produit taille couleur disponible stock '
  'compte mot de passe panier paiement facture réduction code promo aide question réponse problème résolu '
  'cassé colis arrivé tard tôt gratuit horaires aujourd''hui demain semaine jours ouvrés adresse téléphone '
  'numéro suivi garantie échange annulation abonnement quantité cadeau déjà très où ça être reçu '
  'français élégant crème façon', ' ')),
 (4, 'ru', ' ', string_to_array(
  'и или но с для от в на по я ты мы вы мой моя ваш ваша это есть был была будет пожалуйста спасибо здравствуйте '
  'привет заказ заказы доставка отправка возврат возврат_средств товар товары цена размер цвет наличие склад '
  'аккаунт пароль корзина оплата карта счёт скидка промокод купон помощь поддержка вопрос ответ проблема '
  'решено сломан посылка пришла поздно рано бесплатно курьер трек номер почта адрес телефон магазин открыт '
  'закрыт часы сегодня завтра вчера неделя дни гарантия обмен отмена подписка количество подарок ещё уже '
  'очень хорошо отлично жаль извините сейчас скоро минут Москва Санкт-Петербург Ёлка объём', ' ')),
 (5, 'zh', '', string_to_array(
  '我 你 您 我们 的 了 是 不 在 有 和 请 谢谢 你好 订单 发货 快递 物流 退款 退货 商品 价格 尺码 颜色 '
  '库存 账户 密码 登录 购物车 结算 付款 发票 优惠券 折扣 帮助 客服 问题 回答 已经 解决 损坏 包裹 '
  '到达 延迟 免费 营业时间 今天 明天 昨天 星期 地址 电话 号码 跟踪 保修 换货 取消 订阅 数量 礼物 '
  '非常 好的 可以 什么时候 哪里 为什么 怎么 。 ， ？ ！ 𠮷野家', ' ')),
 (6, 'ja', '', string_to_array(
  'こんにちは ありがとうございます お願いします 注文 配送 発送 返金 返品 商品 価格 サイズ 色 在庫 '
  'アカウント パスワード ログイン カート 支払い 請求書 クーポン 割引 サポート 質問 回答 問題 解決 '
  '壊れた 荷物 届きました 遅れ 無料 営業時間 今日 明日 昨日 週 住所 電話番号 追跡 保証 交換 '
  'キャンセル 定期購入 数量 ギフト です ます でした ません か を に が は と で も 。 、 ？ ！ '
  '東京 大阪 ｶﾀｶﾅ', ' '));
UPDATE vocab SET n = array_length(w, 1);

-- Things sprinkled into text: emoji (including ZWJ sequences, flags,
-- skin tones, variation selectors) and characters that dump formats must
-- escape (newline, tab, backslash, quotes, COPY's \N, markup).
CREATE TEMP TABLE extras (emoji text[] NOT NULL, ne int, sp text[] NOT NULL, ns int);
INSERT INTO extras (emoji, sp) VALUES (
  ARRAY['😀', '🙂', '😅', '🙏', '👍', '👍🏽', '❤️', '🎉', '📦', '🚚', '✅', '❌', '💳', '🔥', '🤔',
        '👨‍👩‍👧', '🏳️‍🌈', '🇩🇪', '🇯🇵', '🇺🇦', '⭐', '☕', '🛒', '💯'],
  ARRAY[E'\n', E'\n\n', E'\t', E'\\', '"', '''', '\N', 'C:\Users\Public\invoice.pdf', '<b>bold</b>',
        '&amp;', '{"a": [1, 2]}', 'NULL', '%s', 'https://example.com/p?id=1&x=2#top', '--', '/* */',
        E'\r\n', '¯\_(ツ)_/¯', 'ℌ𝔢𝔩𝔩𝔬', 'Ω≈ç√∫', 'a' || chr(160) || 'b', chr(8203)]);
UPDATE extras SET ne = array_length(emoji, 1), ns = array_length(sp, 1);

-- Language mix (lang index by weight): en 45%, de 12%, es 9%, fr 8%, ru 12%, zh 8%, ja 6%.
CREATE FUNCTION pg_temp.pick_lang() RETURNS int LANGUAGE sql VOLATILE AS $$
  SELECT CASE WHEN r < 0.45 THEN 0 WHEN r < 0.57 THEN 1 WHEN r < 0.66 THEN 2 WHEN r < 0.74 THEN 3
              WHEN r < 0.86 THEN 4 WHEN r < 0.94 THEN 5 ELSE 6 END
  FROM (SELECT random() AS r) s
$$;

CREATE FUNCTION pg_temp.lang_code(l int) RETURNS text LANGUAGE sql STABLE AS $$
  SELECT code FROM pg_temp.vocab WHERE lang = l
$$;

-- nw pseudo-random words of language l, with order numbers, prices, SKUs,
-- emoji and special characters mixed in.
CREATE FUNCTION pg_temp.txt(l int, nw int) RETURNS text LANGUAGE sql VOLATILE AS $$
  SELECT string_agg(
           CASE WHEN g.r < 0.955 THEN v.w[1 + floor(random() * v.n)::int]
                WHEN g.r < 0.970 THEN x.emoji[1 + floor(random() * x.ne)::int]
                WHEN g.r < 0.980 THEN '#' || (100000 + floor(random() * 900000)::int)
                WHEN g.r < 0.986 THEN to_char(random() * 500, 'FM9990.00') || ' €'
                WHEN g.r < 0.992 THEN 'SKU-' || upper(lpad(to_hex(floor(random() * 16777216)::int), 6, '0'))
                ELSE x.sp[1 + floor(random() * x.ns)::int]
           END, v.sep ORDER BY g.i)
  FROM (SELECT i, random() AS r FROM generate_series(1, greatest(nw, 1)) i) g
       CROSS JOIN (SELECT * FROM pg_temp.vocab WHERE lang = l) v
       CROSS JOIN pg_temp.extras x
$$;

-- A page of text: np paragraphs of 30..110 words, separated by blank lines.
CREATE FUNCTION pg_temp.doc(l int, np int) RETURNS text LANGUAGE sql VOLATILE AS $$
  SELECT string_agg(pg_temp.txt(l, 30 + floor(random() * 80)::int), E'\n\n' ORDER BY i)
  FROM generate_series(1, greatest(np, 1)) i
$$;

-- n pseudo-random bytes.
CREATE FUNCTION pg_temp.rbytes(n int) RETURNS bytea LANGUAGE sql VOLATILE AS $$
  SELECT decode(string_agg(lpad(to_hex(floor(random() * 256)::int), 2, '0'), '' ORDER BY i), 'hex')
  FROM generate_series(1, greatest(n, 1)) i
$$;

-- What an XChaCha20-Poly1305 sealed secret looks like: 24-byte nonce,
-- ciphertext, 16-byte tag.
CREATE FUNCTION pg_temp.sealed(plain_len int) RETURNS bytea LANGUAGE sql VOLATILE AS $$
  SELECT pg_temp.rbytes(24 + plain_len + 16)
$$;

-- An embedding: dim floats, roughly normal around 0 (sum of uniforms).
CREATE FUNCTION pg_temp.vec(dim int) RETURNS real[] LANGUAGE sql VOLATILE AS $$
  SELECT array_agg(((random() + random() + random() - 1.5) * 0.08)::real ORDER BY i)
  FROM generate_series(1, dim) i
$$;

-- Personal names in several scripts.
CREATE FUNCTION pg_temp.person() RETURNS text LANGUAGE sql VOLATILE AS $$
  SELECT f[1 + floor(random() * array_length(f, 1))::int] || ' ' || s[1 + floor(random() * array_length(s, 1))::int]
  FROM (SELECT
    ARRAY['Anna', 'Jürgen', 'José', 'Zoë', 'Chloé', 'Søren', 'Łukasz', 'Ağrı', 'Mary', 'John', 'Priya', 'Dmitri',
          'Дмитрий', 'Ольга', 'Алёна', 'Σοφία', 'محمد', 'שרה', '伟', '娜', 'さくら', '翔太', '민준', 'Nguyễn'] AS f,
    ARRAY['Müller', 'García', 'Dubois', 'O''Brien', 'Smith', 'Nowak', 'Øvergaard', 'van der Berg', 'Иванов',
          'Петрова', 'Παπαδόπουλος', 'العلي', 'כהן', '王', '李', '田中', '佐藤', '김', 'Trần', 'Smith-Jones'] AS s) a
$$;

-- Deterministic uuid from a text key.
CREATE FUNCTION pg_temp.uid(k text) RETURNS uuid LANGUAGE sql IMMUTABLE AS $$
  SELECT md5(k)::uuid
$$;
