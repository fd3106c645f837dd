//! Generated stubs driving real calls over the in-memory pair: a server
//! routing two services by the generated enums, typed clients of every RPC
//! kind, and UNIMPLEMENTED for paths no service takes.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use grpc_sansio::codec::{self, MethodKind};
use grpc_sansio::grpc::{CallId, Code, Metadata, Status};
use grpc_sansio::testing::Pair;
use grpc_sansio::{client, server};
use grpc_sansio_build_tests::ecommerce::{self, Product, ProductId, product_info};
use grpc_sansio_build_tests::routes::v1::{self as rt, routes};
use prost::bytes::Bytes;

use product_info::{ProductInfoClient, ProductInfoMethod, ProductInfoRequest, ProductInfoServer};
use routes::{RoutesClient, RoutesMethod, RoutesRequest, RoutesServer};

/// What a server call was routed to, and what it has gathered.
enum Route {
    Product(ProductInfoMethod),
    Routes(RoutesMethod, u32),
}

/// A server application of both services, as an adapter would run it: one
/// event at a time, calls routed by path.
#[derive(Default)]
struct App {
    calls: HashMap<CallId, Route>,
    products: HashMap<String, Product>,
    /// Metadata `x-user` of the last call, to see request options arrive.
    last_user: Option<String>,
}

impl App {
    fn serve(&mut self, p: &mut Pair) {
        while let Some(ev) = p.server_events.pop_front() {
            self.on_event(&mut p.server, ev);
        }
    }

    fn on_event(&mut self, conn: &mut server::Connection, ev: server::Event) {
        match ev {
            server::Event::Call {
                call,
                path,
                metadata,
                ..
            } => {
                self.last_user = metadata.get("x-user").map(str::to_string);
                let route = if let Some(m) = product_info::route(&path) {
                    Route::Product(m)
                } else if let Some(m) = routes::route(&path) {
                    Route::Routes(m, 0)
                } else {
                    let status = codec::route_unimplemented(
                        &path,
                        &[product_info::SERVICE_NAME, routes::SERVICE_NAME],
                    );
                    conn.reject(call, status).unwrap();
                    return;
                };
                self.calls.insert(call, route);
            }
            server::Event::Message { call, data } => match self.calls.get_mut(&call) {
                Some(Route::Product(m)) => match ProductInfoRequest::decode(*m, data).unwrap() {
                    ProductInfoRequest::AddProduct(product) => {
                        let id = format!("p{}", self.products.len() + 1);
                        self.products.insert(id.clone(), product);
                        ProductInfoServer::respond_add_product(
                            conn,
                            call,
                            &ProductId { value: id },
                        )
                        .unwrap();
                    }
                    ProductInfoRequest::GetProduct(id) => match self.products.get(&id.value) {
                        Some(product) => {
                            ProductInfoServer::respond_get_product(conn, call, product).unwrap()
                        }
                        None => {
                            conn.reject(call, Status::not_found(id.value)).unwrap();
                            self.calls.remove(&call);
                        }
                    },
                },
                Some(Route::Routes(m, count)) => match RoutesRequest::decode(*m, data).unwrap() {
                    RoutesRequest::ListPoints(area) => {
                        let (lo, hi) = (area.lo.unwrap_or_default(), area.hi.unwrap_or_default());
                        for x in lo.x..=hi.x {
                            let point = rt::Point { x, y: lo.y };
                            RoutesServer::respond_list_points(conn, call, &point).unwrap();
                        }
                    }
                    RoutesRequest::RecordRoute(_) => *count += 1,
                    RoutesRequest::Chat(note) => {
                        let echo = rt::Note {
                            text: note.text.to_uppercase(),
                        };
                        RoutesServer::respond_chat(conn, call, &echo).unwrap();
                    }
                    RoutesRequest::Price(id) => {
                        let count = id.value.len() as u32;
                        RoutesServer::respond_price(conn, call, &rt::Summary { count }).unwrap();
                    }
                },
                None => {}
            },
            server::Event::HalfClose { call } => {
                if let Some(Route::Routes(RoutesMethod::RecordRoute, count)) = self.calls.get(&call)
                {
                    let summary = rt::Summary { count: *count };
                    RoutesServer::respond_record_route(conn, call, &summary).unwrap();
                }
                if self.calls.remove(&call).is_some() {
                    conn.finish(call, Status::ok(), &Metadata::new()).unwrap();
                }
            }
            server::Event::Cancelled { call, .. } => {
                self.calls.remove(&call);
            }
            _ => {}
        }
    }
}

fn pair() -> Pair {
    Pair::new(
        client::Config::default(),
        server::Config::default(),
        Instant::now(),
    )
}

/// Drives until quiet, serving as events come.
fn run(p: &mut Pair, app: &mut App) {
    loop {
        assert!(p.drive(), "livelock");
        if p.server_events.is_empty() {
            return;
        }
        app.serve(p);
    }
}

/// The messages and the status of one client call.
fn outcome(p: &mut Pair, call: CallId) -> (Vec<Bytes>, Status) {
    let mut msgs = Vec::new();
    let mut status = None;
    p.client_events.retain(|e| match e {
        client::Event::Message { call: c, data } if *c == call => {
            msgs.push(data.clone());
            false
        }
        client::Event::Status {
            call: c, status: s, ..
        } if *c == call => {
            status = Some(s.clone());
            false
        }
        _ => true,
    });
    (msgs, status.expect("the call ended"))
}

#[test]
fn unary_product_info() {
    let mut p = pair();
    let mut app = App::default();
    let product = Product {
        id: String::new(),
        name: "Apple iPhone 11".into(),
        description: "Meet Apple iPhone 11.".into(),
        price: 699.0,
    };
    let add = ProductInfoClient::add_product(
        &mut p.client,
        product_info::ADD_PRODUCT.request(),
        &product,
        p.now,
    )
    .unwrap();
    run(&mut p, &mut app);
    let (msgs, status) = outcome(&mut p, add);
    assert!(status.is_ok(), "{status:?}");
    assert_eq!(msgs.len(), 1);
    let id = ProductInfoClient::decode_add_product(msgs[0].clone()).unwrap();
    assert_eq!(id.value, "p1");

    // Metadata and deadline travel with the request the stub is given.
    let mut req = product_info::GET_PRODUCT.request();
    req.metadata.append("x-user", "alice").unwrap();
    req.deadline = Some(p.now + Duration::from_secs(5));
    let get = ProductInfoClient::get_product(&mut p.client, req, &id, p.now).unwrap();
    run(&mut p, &mut app);
    let (msgs, status) = outcome(&mut p, get);
    assert!(status.is_ok(), "{status:?}");
    assert_eq!(app.last_user.as_deref(), Some("alice"));
    assert_eq!(
        ProductInfoClient::decode_get_product(msgs[0].clone()).unwrap(),
        product
    );

    // An application error comes back as the status.
    let missing = ProductId { value: "p9".into() };
    let get = ProductInfoClient::get_product(
        &mut p.client,
        product_info::GET_PRODUCT.request(),
        &missing,
        p.now,
    )
    .unwrap();
    run(&mut p, &mut app);
    let (msgs, status) = outcome(&mut p, get);
    assert!(msgs.is_empty());
    assert_eq!(
        (status.code, status.message.as_str()),
        (Code::NotFound, "p9")
    );
}

#[test]
fn the_stub_sets_the_path() {
    let mut p = pair();
    let mut app = App::default();
    let call = ProductInfoClient::add_product(
        &mut p.client,
        client::Request::new("/somewhere.Else/entirely"),
        &Product::default(),
        p.now,
    )
    .unwrap();
    assert!(p.drive());
    assert!(matches!(
        p.server_events.front(),
        Some(server::Event::Call { path, .. }) if path == "/ecommerce.ProductInfo/addProduct"
    ));
    run(&mut p, &mut app);
    assert!(outcome(&mut p, call).1.is_ok());
}

#[test]
fn server_streaming() {
    let mut p = pair();
    let mut app = App::default();
    let area = rt::Area {
        lo: Some(rt::Point { x: 1, y: 7 }),
        hi: Some(rt::Point { x: 5, y: 9 }),
    };
    let call =
        RoutesClient::list_points(&mut p.client, routes::LIST_POINTS.request(), &area, p.now)
            .unwrap();
    run(&mut p, &mut app);
    let (msgs, status) = outcome(&mut p, call);
    assert!(status.is_ok(), "{status:?}");
    let xs: Vec<i32> = msgs
        .into_iter()
        .map(|m| RoutesClient::decode_list_points(m).unwrap().x)
        .collect();
    assert_eq!(xs, [1, 2, 3, 4, 5]);
}

#[test]
fn client_streaming() {
    let mut p = pair();
    let mut app = App::default();
    let call =
        RoutesClient::record_route(&mut p.client, routes::RECORD_ROUTE.request(), p.now).unwrap();
    for x in 0..4 {
        RoutesClient::send_record_route(&mut p.client, call, &rt::Point { x, y: 0 }).unwrap();
        run(&mut p, &mut app);
    }
    p.client.half_close(call).unwrap();
    run(&mut p, &mut app);
    let (msgs, status) = outcome(&mut p, call);
    assert!(status.is_ok(), "{status:?}");
    assert_eq!(msgs.len(), 1);
    assert_eq!(
        RoutesClient::decode_record_route(msgs[0].clone()).unwrap(),
        rt::Summary { count: 4 }
    );
}

#[test]
fn bidi_streaming_and_cross_package_types() {
    let mut p = pair();
    let mut app = App::default();
    let call = RoutesClient::chat(&mut p.client, routes::CHAT.request(), p.now).unwrap();
    let mut heard = Vec::new();
    for word in ["one", "two", "three"] {
        let note = rt::Note { text: word.into() };
        RoutesClient::send_chat(&mut p.client, call, &note).unwrap();
        run(&mut p, &mut app);
        // Each answer arrives before the next note is sent.
        p.client_events.retain(|e| match e {
            client::Event::Message { call: c, data } if *c == call => {
                heard.push(RoutesClient::decode_chat(data.clone()).unwrap().text);
                false
            }
            _ => true,
        });
    }
    assert_eq!(heard, ["ONE", "TWO", "THREE"]);
    p.client.half_close(call).unwrap();
    run(&mut p, &mut app);
    assert!(outcome(&mut p, call).1.is_ok());

    // A request type from another package (ecommerce.ProductID).
    let id = ecommerce::ProductId {
        value: "abc".into(),
    };
    let call = RoutesClient::price(&mut p.client, routes::PRICE.request(), &id, p.now).unwrap();
    run(&mut p, &mut app);
    let (msgs, status) = outcome(&mut p, call);
    assert!(status.is_ok(), "{status:?}");
    assert_eq!(
        RoutesClient::decode_price(msgs[0].clone()).unwrap().count,
        3
    );
}

#[test]
fn unknown_service_and_method_are_unimplemented() {
    let mut p = pair();
    let mut app = App::default();
    for (path, message) in [
        (
            "/ecommerce.ProductInfo/deleteProduct",
            "unknown method deleteProduct for service ecommerce.ProductInfo",
        ),
        (
            "/ecommerce.OrderManagement/getOrder",
            "unknown service ecommerce.OrderManagement",
        ),
        // Method names are case-sensitive.
        (
            "/ecommerce.ProductInfo/GetProduct",
            "unknown method GetProduct for service ecommerce.ProductInfo",
        ),
    ] {
        let call = codec::start_unary(
            &mut p.client,
            client::Request::new(path),
            &ProductId::default(),
            p.now,
        )
        .unwrap();
        run(&mut p, &mut app);
        let (msgs, status) = outcome(&mut p, call);
        assert!(msgs.is_empty());
        assert_eq!(status.code, Code::Unimplemented, "{path}");
        assert_eq!(status.message, message);
    }
    assert!(app.calls.is_empty());
}

#[test]
fn method_enums_and_descriptors() {
    for &m in ProductInfoMethod::ALL {
        assert_eq!(ProductInfoMethod::from_path(m.descriptor().path), Some(m));
        assert_eq!(m.descriptor().kind, MethodKind::Unary);
    }
    let kinds: Vec<_> = RoutesMethod::ALL
        .iter()
        .map(|m| (m.descriptor().path, m.descriptor().kind))
        .collect();
    assert_eq!(
        kinds,
        [
            ("/routes.v1.Routes/ListPoints", MethodKind::ServerStreaming),
            ("/routes.v1.Routes/RecordRoute", MethodKind::ClientStreaming),
            ("/routes.v1.Routes/Chat", MethodKind::BidiStreaming),
            ("/routes.v1.Routes/Price", MethodKind::Unary),
        ]
    );
    assert_eq!(routes::SERVICE_NAME, "routes.v1.Routes");
    assert_eq!(product_info::SERVICE_NAME, "ecommerce.ProductInfo");
    assert_eq!(routes::route("/routes.v1.Routes"), None);
    assert_eq!(routes::route(""), None);
}

#[test]
fn a_malformed_request_is_internal() {
    let err = ProductInfoRequest::decode(
        ProductInfoMethod::GetProduct,
        Bytes::from_static(&[0x0a, 0xff]),
    )
    .unwrap_err();
    assert_eq!(err.code, Code::Internal);
}
